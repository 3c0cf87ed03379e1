"""The table layer: tables read as grids of cells from PDF pages, scans and text."""
