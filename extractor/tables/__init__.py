"""The table layer: tables read as grids of cells from PDFs, scans and plain text."""
