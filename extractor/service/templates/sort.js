// Click a column header to sort a table.sortable by it (numbers as numbers; again to reverse).
document.querySelectorAll('table.sortable').forEach((table) => {
  table.querySelectorAll('thead th').forEach((th, col) => {
    th.addEventListener('click', () => {
      const asc = !th.classList.contains('sorted-asc');
      table.querySelectorAll('thead th').forEach((h) => h.classList.remove('sorted-asc', 'sorted-desc'));
      th.classList.add(asc ? 'sorted-asc' : 'sorted-desc');
      const body = table.tBodies[0];
      const key = (row) => {
        const cell = row.cells[col];
        const raw = cell.dataset.sort !== undefined ? cell.dataset.sort : cell.textContent.trim();
        const num = parseFloat(raw);
        return raw !== '' && !isNaN(num) && /^-?[\d.]+$/.test(raw) ? num : raw.toLowerCase();
      };
      const rows = Array.from(body.rows).sort((a, b) => {
        const x = key(a), y = key(b);
        const cmp = typeof x === 'number' && typeof y === 'number' ? x - y : String(x).localeCompare(String(y));
        return asc ? cmp : -cmp;
      });
      rows.forEach((r) => body.appendChild(r));
    });
  });
});
