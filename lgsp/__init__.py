"""The document-axis engine: one hub (a provincial LGSP or the national NDXP) per process."""
