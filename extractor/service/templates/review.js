// The review page: page image with a box per value, field detail, corrections.
// Everything it shows comes from the JSON block the server rendered into the page;
// text from the document is always set with textContent (never parsed as HTML).
(() => {
  const data = JSON.parse(document.getElementById('review-data').textContent);
  const sha = data.document.sha256;
  const byPath = new Map(data.fields.map((f) => [f.path, f]));
  const detail = document.getElementById('detail');
  const reviewer = document.getElementById('reviewer');
  let currentPage = null;
  let selected = null;

  reviewer.value = localStorage.getItem('extractor.reviewer') || '';
  reviewer.addEventListener('change', () => localStorage.setItem('extractor.reviewer', reviewer.value.trim()));

  const el = (tag, attrs = {}, ...children) => {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) {
      if (k === 'class') node.className = v; else if (k.startsWith('on')) node.addEventListener(k.slice(2), v);
      else node.setAttribute(k, v);
    }
    for (const c of children) if (c !== null && c !== undefined) node.append(c);
    return node;
  };
  const fmt = (v) => (v === null || v === undefined ? '–' : String(v));
  const pageOf = (f) => (f.evidence && f.evidence.page) || null;

  // ------------------------------------------------------------------ page image and boxes
  function showPage(n) {
    if (!data.document.visual || !n) return;
    const sheet = document.getElementById('sheet');
    if (currentPage !== n) {
      currentPage = n;
      const [w, h] = data.document.page_sizes[n - 1] || [595, 842];
      sheet.style.aspectRatio = w + ' / ' + h;
      document.getElementById('page-image').src = '/v1/documents/' + sha + '/pages/' + n + '.png';
      sheet.querySelectorAll('.box').forEach((b) => b.remove());
      const place = (box, cls, title, slot) => {
        const [x0, y0, x1, y1] = box;
        const node = el('div', {class: 'box ' + cls, title});
        Object.assign(node.style, {left: (100 * x0 / w) + '%', top: (100 * y0 / h) + '%',
          width: (100 * (x1 - x0) / w) + '%', height: (100 * (y1 - y0) / h) + '%'});
        if (slot) { node.dataset.slot = slot; node.addEventListener('click', () => select(slot)); }
        sheet.append(node);
      };
      for (const f of data.fields) {
        if (pageOf(f) === n) for (const b of f.boxes || []) place(b, f.status, f.path + ' = ' + fmt(f.value), f.path);
      }
      for (const finding of data.findings) {
        for (const st of finding.statements || []) {
          if (st.page === n) for (const b of st.boxes || []) place(b, 'finding', finding.kind + ': ' + finding.message, null);
        }
      }
      document.querySelectorAll('#pagebar button').forEach((b) => b.classList.toggle('current', Number(b.dataset.page) === n));
      locateScanned(n);
    }
    if (selected) markSelected(selected);
  }
  document.querySelectorAll('#pagebar button').forEach((b) => b.addEventListener('click', () => showPage(Number(b.dataset.page))));

  // A scanned page has no text layer to search: ask the server to find the values among
  // the page's OCR words (seconds the first time, cached after), then draw them.
  const asked = new Set();
  async function locateScanned(n) {
    const missing = data.fields.filter((f) => pageOf(f) === n && !(f.boxes || []).length);
    if (!(data.document.ocr_pages || []).includes(n) || !missing.length || asked.has(n)) return;
    asked.add(n);
    const note = document.getElementById('locating');
    note.textContent = 'locating values on this scanned page…';
    const resp = await fetch('/v1/documents/' + sha + '/pages/' + n + '/boxes?run=' + data.run_id);
    const body = await resp.json();
    note.textContent = resp.ok ? '' : body.error;
    if (!resp.ok) return;
    for (const [path, found] of Object.entries(body.boxes)) {
      const f = byPath.get(path);
      if (f) { f.boxes = found.boxes; f.method = found.method; }
    }
    if (currentPage === n) { currentPage = null; showPage(n); }
    if (selected && byPath.get(selected) && pageOf(byPath.get(selected)) === n) renderDetail(byPath.get(selected));
  }

  function markSelected(path) {
    document.querySelectorAll('.box.selected, mark.v.selected, tr.field.selected').forEach((n) => n.classList.remove('selected'));
    const sel = (q) => document.querySelectorAll(q + '[data-slot="' + CSS.escape(path) + '"]');
    sel('tr.field').forEach((n) => { n.classList.add('selected'); n.scrollIntoView({block: 'nearest'}); });
    const marks = [...sel('.box'), ...sel('mark.v')];
    marks.forEach((n) => n.classList.add('selected'));
    if (marks.length) marks[0].scrollIntoView({block: 'center', behavior: 'instant'});
  }

  // ------------------------------------------------------------------ detail panel
  function checkNode(c, f) {
    const figs = el('div', {class: 'figs'});
    c.figures.forEach((g, i) => {
      const mine = String(g.slot) === f.label || String(g.slot).startsWith(f.label + ' (');
      if (i) figs.append(' · ');
      figs.append(mine ? el('b', {}, g.slot + ' = ' + fmt(g.value)) : g.slot + ' = ' + fmt(g.value));
    });
    return el('div', {class: 'check ' + (c.passed ? 'pass' : 'fail')},
      el('b', {}, (c.passed ? 'PASS ' : 'FAIL ') + c.rule), ' ', c.name,
      el('div', {}, c.summary), figs);
  }

  function renderDetail(f) {
    detail.replaceChildren();
    detail.append(el('h2', {title: f.path}, f.title),
      el('div', {class: 'value'}, fmt(f.value), ' ',
         el('span', {class: 'badge ' + f.status}, f.status === 'missing' ? 'not extracted' : f.status)));
    const ev = f.evidence;
    if (ev) {
      const where = el('section', {id: 'evidence'}, el('h3', {}, 'Evidence' + (ev.page ? ' · page ' + ev.page : '')),
        el('div', {class: 'quote'}, ev.quote));
      if (ev.row_label || ev.column_header) where.append(el('div', {class: 'muted'}, 'row: ' + fmt(ev.row_label) + ' · column: ' + fmt(ev.column_header)));
      const located = data.document.visual
        ? ((f.boxes || []).length ? 'box on the page: ' + ({cell: 'table cell', value: 'printed value', quote: 'quote', 'value-only': 'printed value', ocr: 'OCR words of the scanned page'}[f.method] || f.method)
                                 : ((data.document.ocr_pages || []).includes(ev.page) && !asked.has(ev.page) ? 'locating on the scanned page…' : 'not found on the page image'))
        : (f.text_page ? 'marked in the text of page ' + f.text_page : 'not located in the text');
      where.append(el('div', {class: 'muted', id: 'located'}, located));
      detail.append(where);
    } else if (f.status !== 'missing') {
      detail.append(el('p', {class: 'muted'}, 'No evidence stored for this value.'));
    }
    const checks = (f.checks || []).map((i) => data.checks[i]);
    const cs = el('section', {id: 'checks'}, el('h3', {}, 'Checks (' + checks.filter((c) => c.passed).length + ' passing, ' + checks.filter((c) => !c.passed).length + ' failing)'));
    if (!checks.length) cs.append(el('div', {class: 'muted'}, f.status === 'missing' ? '–' : 'No check involves this value.'));
    checks.sort((a, b) => a.passed - b.passed).forEach((c) => cs.append(checkNode(c, f)));
    detail.append(cs);
    if (f.repair) {
      const r = f.repair;
      detail.append(el('section', {id: 'repair'}, el('h3', {}, 'Repair'),
        el('div', {class: 'repair'}, fmt(r.before) + ' → ' + fmt(r.after), el('br'),
           el('span', {class: 'muted'}, (r.source || '') + (r.detail ? ': ' + r.detail : '') + ' · rule ' + r.rule))));
    }
    const corr = el('section', {id: 'corrections'}, el('h3', {}, 'Review'));
    for (const c of f.corrections) {
      corr.append(el('div', {class: 'corr'}, c.created + ' ' + c.author + ': ' +
        (c.action === 'accept' ? 'accepted ' + fmt(c.value) : 'corrected to ' + fmt(c.value)) + (c.note ? ' — ' + c.note : '')));
    }
    const value = el('input', {name: 'value', placeholder: 'right value', value: f.value === null ? '' : String(f.value)});
    const note = el('textarea', {name: 'note', placeholder: 'note (why)'});
    const message = el('div', {id: 'message'});
    const send = async (action) => {
      const author = reviewer.value.trim();
      if (!author) { message.className = 'error'; message.textContent = 'Enter your name as reviewer (top right) first.'; reviewer.focus(); return; }
      localStorage.setItem('extractor.reviewer', author);
      const resp = await fetch('/v1/documents/' + sha + '/corrections', {method: 'POST', headers: {'Content-Type': 'application/json'},
        body: JSON.stringify({slot: f.path, action, value: action === 'correct' ? value.value : null, note: note.value || null, author})});
      const body = await resp.json();
      if (!resp.ok) { message.className = 'error'; message.textContent = body.error; return; }
      f.corrections.push({action: body.action, value: body.value, before: body.before, note: body.note, author: body.author,
        created: body.created.slice(0, 19)});
      updateRow(f);
      renderDetail(f);
      document.getElementById('message').textContent = 'Saved.';
    };
    const form = el('form', {class: 'correct', onsubmit: (e) => { e.preventDefault(); send('correct'); }},
      value, el('span'), note,
      el('div', {class: 'buttons'},
        el('button', {type: 'button', class: 'act', id: 'accept', onclick: () => send('accept')}, 'Accept value'),
        el('button', {type: 'submit', class: 'act primary', id: 'save-correction'}, 'Save correction')));
    corr.append(form, message);
    detail.append(corr);
  }

  function updateRow(f) {
    const row = document.querySelector('tr.field[data-slot="' + CSS.escape(f.path) + '"]');
    if (!row) return;
    const last = f.corrections[f.corrections.length - 1];
    let span = row.querySelector('.corr');
    if (!span) { span = el('span', {class: 'corr'}); row.cells[2].append(' ', span); }
    span.textContent = '✎ ' + last.action + (last.action === 'correct' ? ' → ' + fmt(last.value) : '');
  }

  function select(path) {
    const f = byPath.get(path);
    if (!f) return;
    selected = path;
    history.replaceState(null, '', '#slot=' + encodeURIComponent(path));
    renderDetail(f);
    if (data.document.visual && pageOf(f)) showPage(pageOf(f));
    markSelected(path);
  }

  document.querySelectorAll('tr.field').forEach((row) => row.addEventListener('click', () => select(row.dataset.slot)));
  document.querySelectorAll('mark.v').forEach((m) => m.addEventListener('click', () => select(m.dataset.slot)));

  // ------------------------------------------------------------------ reviewed mark
  const markButton = document.getElementById('mark-reviewed');
  let reviewed = Boolean(data.review && data.review.reviewed);
  markButton.addEventListener('click', async () => {
    const author = reviewer.value.trim();
    const state = document.getElementById('review-state');
    if (!author) { state.textContent = 'enter your name first'; reviewer.focus(); return; }
    const resp = await fetch('/v1/documents/' + sha + '/review', {method: 'POST', headers: {'Content-Type': 'application/json'},
      body: JSON.stringify({reviewed: !reviewed, author, run_id: data.run_id})});
    const body = await resp.json();
    if (!resp.ok) { state.textContent = body.error; return; }
    reviewed = body.reviewed;
    state.textContent = reviewed ? 'reviewed by ' + body.author + ' ' + body.created.slice(0, 19) : 'not reviewed';
    markButton.textContent = reviewed ? 'Mark not reviewed' : 'Mark reviewed';
  });

  // ------------------------------------------------------------------ filters and page marks
  document.querySelectorAll('#filters button').forEach((b) => b.addEventListener('click', () => {
    document.querySelectorAll('#filters button').forEach((x) => x.classList.toggle('current', x === b));
    const want = b.dataset.filter;
    document.querySelectorAll('tr.field').forEach((row) => {
      const f = byPath.get(row.dataset.slot);
      const show = want === 'all' || (want === 'corrected' ? f.corrections.length > 0 : f.status === want);
      row.classList.toggle('hidden', !show);
    });
  }));
  document.querySelectorAll('#pagebar button').forEach((b) => {
    const n = Number(b.dataset.page);
    const here = data.fields.filter((f) => pageOf(f) === n);
    const flagged = here.filter((f) => f.status === 'flagged').length;
    b.title = here.length + ' value(s)' + (flagged ? ', ' + flagged + ' flagged' : '');
    b.classList.toggle('has-flagged', flagged > 0);
  });

  // ------------------------------------------------------------------ start
  const wanted = decodeURIComponent((location.hash.match(/^#slot=(.+)$/) || [])[1] || '');
  if (wanted && byPath.has(wanted)) select(wanted);
  else if (data.document.visual) showPage(Number((data.fields.find((f) => (f.boxes || []).length) || {}).evidence?.page || 1));
})();
