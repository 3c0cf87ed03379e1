"""The table layer: readers turn a page into raw grids (:mod:`.pdf` for the text layer,
:mod:`.scan` for page images, :mod:`.text` for plain-text rows); :mod:`.structure` gives
every grid its meaning (header rows and paths, row labels, title, unit) and joins tables
continued across pages; :mod:`.layout` puts a page's tables in place in its text."""
