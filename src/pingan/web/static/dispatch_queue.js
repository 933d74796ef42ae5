/* 待派遣队列: dispatch to a suggestion, or correct to another department. Both post the lifecycle action
   `assign` through the JSON API (window.pinganApi from app.js), with the case version as optimistic lock. */
"use strict";
(function () {
  const api = window.pinganApi;
  const tpl = document.getElementById("dq-msgs");
  const doneText = (dep) => (tpl ? tpl.dataset.done : "✓ {dep}").replace("{dep}", dep);

  function finish(card, depName) {
    card.classList.add("done");
    card.querySelectorAll("button, select, input").forEach((el) => { el.disabled = true; });
    const out = card.querySelector(".dq-done");
    out.textContent = doneText(depName);
    out.className = "dq-done success";
  }

  async function assign(card, body) {
    body.version = Number(card.dataset.version);
    const res = await api("POST", `/api/v1/cases/${card.dataset.case}/actions/assign`, body);
    if (res && res.version) card.dataset.version = String(res.version);
    return res;
  }

  function showError(card, text) {
    const out = card.querySelector(".dq-done");
    out.textContent = text;
    out.className = "dq-done form-error";
  }

  document.addEventListener("click", async (ev) => {
    const btn = ev.target.closest("button[data-dispatch]");
    if (!btn) return;
    const card = btn.closest(".dq-case");
    const co = (btn.dataset.co || "").split(",").filter(Boolean).map(Number);
    const body = { department_id: Number(btn.dataset.dispatch), category: btn.dataset.category };
    if (co.length) body.co_department_ids = co;
    btn.disabled = true;
    try {
      await assign(card, body);
      finish(card, btn.dataset.depName);
    } catch (err) {
      btn.disabled = false;
      showError(card, err.message);
    }
  });

  document.addEventListener("submit", async (ev) => {
    const form = ev.target.closest("form.dq-correct-form");
    if (!form) return;
    ev.preventDefault();
    const card = form.closest(".dq-case");
    const err = form.querySelector(".form-error");
    err.hidden = true;
    const sel = form.elements.department_id;
    if (!sel.value) { err.textContent = sel.options[0].textContent; err.hidden = false; sel.focus(); return; }
    const body = { department_id: Number(sel.value) };
    if (form.elements.category.value) body.category = form.elements.category.value;
    if (form.elements.note.value.trim()) body.note = form.elements.note.value.trim();
    const submit = form.querySelector("button[type=submit]");
    submit.disabled = true;
    try {
      await assign(card, body);
      finish(card, sel.options[sel.selectedIndex].textContent);
    } catch (e) {
      submit.disabled = false;
      err.textContent = e.message; err.hidden = false;
    }
  });
})();
