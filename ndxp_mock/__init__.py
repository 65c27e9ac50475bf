"""The national axis (NDXP): the axis engine with the national directory. Next milestone."""
