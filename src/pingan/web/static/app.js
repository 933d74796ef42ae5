/* Pingan pages: small vanilla JS. Every change goes through the JSON API (/api/v1) with the session cookie
   (SameSite=strict) and a JSON body; a refusal shows the API's own message. */
"use strict";
(function () {
  const LANG = document.body.dataset.lang || "zh";

  function msgOf(body, status) {
    const e = body && body.error;
    if (e) {
      let text = LANG === "en" ? (e.message_en || e.message) : (e.message || e.message_en);
      if (e.details && Array.isArray(e.details) && e.details.length) {
        text += "：" + e.details.map(d => (d.loc || "") + " " + (d.msg || "")).join("；");
      }
      return text;
    }
    return (LANG === "en" ? "Request failed: HTTP " : "请求失败：HTTP ") + status;
  }

  async function api(method, url, body) {
    const opts = { method, credentials: "same-origin", headers: { "X-Requested-With": "pingan-web", "Accept": "application/json" } };
    if (body !== undefined) { opts.headers["Content-Type"] = "application/json"; opts.body = JSON.stringify(body); }
    let resp;
    try { resp = await fetch(url, opts); } catch (err) {
      throw new Error(LANG === "en" ? "Network error; please retry" : "网络异常，请重试");
    }
    let data = null;
    const text = await resp.text();
    if (text) { try { data = JSON.parse(text); } catch (_) { data = null; } }
    if (resp.status === 401) {
      const e = new Error(msgOf(data, resp.status)); e.status = 401; e.code = data && data.error && data.error.code;
      if (!url.endsWith("/auth/login") && !url.endsWith("/auth/password")) {
        location.href = "/login?expired=1&next=" + encodeURIComponent(location.pathname + location.search);
      }
      throw e;
    }
    if (!resp.ok) { const e = new Error(msgOf(data, resp.status)); e.status = resp.status; e.body = data; throw e; }
    return data;
  }
  window.pinganApi = api;

  function showError(form, text) {
    const p = form.querySelector(".form-error");
    if (p) { p.textContent = text; p.hidden = false; p.focus && p.setAttribute("tabindex", "-1"); }
    else flash(text, true);
  }
  function clearError(form) { const p = form.querySelector(".form-error"); if (p) { p.hidden = true; p.textContent = ""; } }
  function flash(text, bad) {
    const f = document.getElementById("flash");
    if (!f) return;
    f.textContent = text; f.hidden = false; f.className = "flash " + (bad ? "bad" : "good");
  }
  window.pinganFlash = flash;

  function fields(form) {
    const out = {};
    for (const el of form.elements) {
      if (!el.name || el.disabled || el.type === "submit" || el.type === "button" || el.type === "file") continue;
      if (el.type === "checkbox") { out[el.name] = el.checked; continue; }
      if (el.multiple) { const v = [...el.selectedOptions].map(o => o.value).filter(Boolean); if (v.length) out[el.name] = v; continue; }
      if (el.value.trim() !== "") out[el.name] = el.value.trim();
    }
    return out;
  }

  function onSubmit(id, handler) {
    const form = document.getElementById(id);
    if (!form) return;
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      clearError(form);
      const btn = form.querySelector("button[type=submit]");
      if (btn) btn.disabled = true;
      try { await handler(form, fields(form)); }
      catch (err) { showError(form, err.message); }
      finally { if (btn) btn.disabled = false; }
    });
  }

  // --- login, password, logout
  onSubmit("login-form", async (form, f) => {
    const r = await api("POST", "/api/v1/auth/login", { username: f.username || "", password: f.password || "" });
    if (r.user.must_change_password && r.user.role !== "channel") { location.href = "/password?first=1"; return; }
    location.href = form.dataset.next || "/";
  });
  onSubmit("password-form", async (form, f) => {
    if ((f.new_password || "") !== (f.new_password2 || "")) throw new Error(form.dataset.mismatch);
    await api("POST", "/api/v1/auth/password", { old_password: f.old_password || "", new_password: f.new_password || "" });
    location.href = "/";
  });
  const logout = document.getElementById("logout");
  if (logout) logout.addEventListener("click", async () => {
    try { await api("POST", "/api/v1/auth/logout"); } catch (_) { /* already logged out */ }
    location.href = "/login";
  });

  // --- case actions
  document.querySelectorAll("[data-open]").forEach(btn => btn.addEventListener("click", () => {
    document.querySelectorAll(".action-form").forEach(f => { f.hidden = true; });
    document.querySelectorAll("[data-open]").forEach(b => b.setAttribute("aria-expanded", "false"));
    const form = document.getElementById("form-" + btn.dataset.open);
    form.hidden = false; btn.setAttribute("aria-expanded", "true");
    const first = form.querySelector("input,select,textarea,button[type=submit]");
    if (first) first.focus();
  }));
  document.querySelectorAll("[data-close]").forEach(b => b.addEventListener("click", () => {
    const form = b.closest("form"); form.hidden = true;
    const opener = document.querySelector(`[data-open="${form.dataset.action}"]`);
    if (opener) { opener.setAttribute("aria-expanded", "false"); opener.focus(); }
  }));
  document.querySelectorAll(".action-form").forEach(form => form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    clearError(form);
    const f = fields(form);
    const body = { version: Number(form.dataset.version) };
    for (const [k, v] of Object.entries(f)) {
      if (["department_id", "target_case_id"].includes(k)) body[k] = Number(v);
      else if (k === "amount") body[k] = Number(v);
      else if (k === "co_department_ids") body[k] = v.map(Number);
      else if (k === "solved") body[k] = v === "true";
      else body[k] = v;
    }
    const btn = form.querySelector("button[type=submit]"); btn.disabled = true;
    try {
      await api("POST", `/api/v1/cases/${form.dataset.case}/actions/${form.dataset.action}`, body);
      sessionStorage.setItem("pingan-flash", (LANG === "en" ? "Done: " : "操作成功：") + form.querySelector("h3").textContent);
      location.reload();
    } catch (err) { showError(form, err.message); }
    finally { btn.disabled = false; }
  }));
  const pending = sessionStorage.getItem("pingan-flash");
  if (pending) { sessionStorage.removeItem("pingan-flash"); flash(pending, false); }

  // --- 12345 intake at the operator's desk
  onSubmit("intake-12345", async (form, f) => {
    const body = { work_order_no: f.work_order_no || "", case_type: f.case_type, title: f.title || "", content: f.content || "" };
    for (const k of ["address", "caller_name", "caller_phone"]) if (f[k]) body[k] = f[k];
    const r = await api("POST", "/api/v1/intake/hotline_12345", body);
    location.href = "/cases/" + r.case_id;
  });

  // --- grid worker report (position from the browser is WGS-84; the API converts and locates it)
  const locBtn = document.getElementById("g-locate");
  if (locBtn) locBtn.addEventListener("click", () => {
    const out = document.getElementById("g-pos");
    if (!navigator.geolocation) { out.textContent = LANG === "en" ? "No GPS on this device" : "此设备不支持定位"; return; }
    out.textContent = "…";
    navigator.geolocation.getCurrentPosition(p => {
      document.getElementById("g-lat").value = p.coords.latitude.toFixed(6);
      document.getElementById("g-lon").value = p.coords.longitude.toFixed(6);
      out.textContent = `${p.coords.latitude.toFixed(5)}, ${p.coords.longitude.toFixed(5)} (WGS-84 ±${Math.round(p.coords.accuracy)}m)`;
    }, err => { out.textContent = (LANG === "en" ? "Position unavailable: " : "无法获取定位：") + err.message; },
    { enableHighAccuracy: true, timeout: 15000 });
  });
  onSubmit("grid-report", async (form, f) => {
    const rid = (crypto.randomUUID ? crypto.randomUUID() : String(Date.now()) + Math.random().toString(16).slice(2)).replace(/[^A-Za-z0-9]/g, "");
    const body = { report_id: "web" + rid.slice(0, 40), title: f.title || "", content: f.content || "", handled_on_spot: !!f.handled_on_spot };
    if (f.address) body.address = f.address;
    if (f.lat && f.lon) body.position = { lat: Number(f.lat), lon: Number(f.lon), crs: "wgs84" };
    if (f.on_spot_result) body.on_spot_result = f.on_spot_result;
    const photo = document.getElementById("g-photo");
    if (photo && photo.files && photo.files.length && form.dataset.attachments === "1") {
      const fd = new FormData(); fd.append("file", photo.files[0]);
      const resp = await fetch("/api/v1/attachments", { method: "POST", body: fd, credentials: "same-origin", headers: { "X-Requested-With": "pingan-web" } });
      const data = await resp.json().catch(() => null);
      if (!resp.ok) throw new Error(msgOf(data, resp.status));
      body.attachment_ids = [data.id];
    }
    const r = await api("POST", "/api/v1/intake/grid", body);
    sessionStorage.setItem("pingan-flash", (LANG === "en" ? "Reported: " : "已上报：") + r.tracking_code);
    location.href = "/cases/" + r.case_id;
  });

  // --- residents
  onSubmit("public-report", async (form, f) => {
    const body = { case_type: f.case_type, title: f.title || "", content: f.content || "", caller_phone: f.caller_phone || "" };
    if (f.address) body.address = f.address;
    if (f.caller_name) body.caller_name = f.caller_name;
    const r = await api("POST", "/api/v1/public/reports", body);
    const box = document.getElementById("p-code");
    box.querySelector("strong").textContent = r.tracking_code; box.hidden = false;
    form.reset();
    document.getElementById("t-code").value = r.tracking_code;
  });
  onSubmit("track-form", async (form, f) => {
    const qs = new URLSearchParams({ code: f.code || "", phone_last4: f.phone_last4 || "" });
    const r = await api("GET", "/api/v1/public/track?" + qs);
    const box = document.getElementById("track-result");
    box.replaceChildren();
    const h = document.createElement("h3"); h.textContent = `${r.tracking_code} · ${r.title}`; box.append(h);
    const p = document.createElement("p"); p.className = "st st-" + r.status; p.dataset.testid = "track-status";
    p.textContent = r.status_label + (r.department ? " · " + r.department : ""); box.append(p);
    const ul = document.createElement("ul");
    for (const rep of r.replies) { const li = document.createElement("li"); li.textContent = `${rep.at.slice(0, 16).replace("T", " ")} ${rep.text}`; ul.append(li); }
    box.append(ul);
    const rate = document.getElementById("rate-form");
    if (rate) {
      rate.hidden = r.status !== "closed";  // 已办结（待回访）: open for the resident's rating
      rate.dataset.code = r.tracking_code; rate.dataset.last4 = f.phone_last4 || "";
    }
    const done = document.getElementById("rate-done");
    if (done) done.hidden = true;
  });
  onSubmit("rate-form", async (form, f) => {
    const body = { code: form.dataset.code || "", phone_last4: form.dataset.last4 || "", satisfaction: f.satisfaction || "" };
    if (f.solved === "true" || f.solved === "false") body.solved = f.solved === "true";
    if (f.comment) body.comment = f.comment;
    const r = await api("POST", "/api/v1/public/track/rating", body);
    form.hidden = true;
    const done = document.getElementById("rate-done");
    const thanks = LANG === "en" ? form.dataset.doneEn : form.dataset.doneZh;
    done.textContent = `${thanks}：${r.satisfaction} · ${r.status_label}`;
    done.hidden = false;
    const st = document.querySelector("[data-testid=track-status]");
    if (st) st.textContent = r.status_label;
  });

  // --- optional services loaded after first paint (hot issues, duplicates)
  async function fill(id, render) {
    const el = document.getElementById(id);
    if (!el) return;
    try {
      const data = await api("GET", el.dataset.src);
      el.replaceChildren();
      const items = Array.isArray(data) ? data : (data.items || data.issues || data.duplicates || []);
      if (!items.length) { const li = document.createElement("li"); li.className = "muted"; li.textContent = "—"; el.append(li); }
      for (const it of items.slice(0, 10)) el.append(render(it));
    } catch (err) { el.replaceChildren(); const li = document.createElement("li"); li.className = "missing"; li.textContent = err.message; el.append(li); }
  }
  fill("hot-list", it => {
    const li = document.createElement("li");
    const first = (it.members || [])[0];
    const a = document.createElement(first ? "a" : "span");
    if (first) a.href = "/cases/" + first.case_id;
    a.textContent = it.label || (it.keywords || []).join(" ") || "—";
    li.append(a);
    const unit = LANG === "en" ? " cases" : " 件";
    li.append(` · ${it.area_name || it.area || ""} · ${it.size ?? ""}${unit} · ${LANG === "en" ? "heat" : "热度"} ${it.heat ?? ""}`);
    return li;
  });
  fill("dup-list", it => {
    const li = document.createElement("li"); const a = document.createElement("a");
    const id = it.case_id ?? it.id; a.href = "/cases/" + id;
    a.textContent = `${it.tracking_code || id} ${it.title || ""}`; li.append(a);
    if (it.score !== undefined) li.append(` · ${(100 * it.score).toFixed(0)}%`);
    if (it.distance_m !== undefined && it.distance_m !== null) li.append(` · ${Math.round(it.distance_m)} m`);
    return li;
  });
})();
