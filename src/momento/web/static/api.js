// Momento's guest pages: the API client they share (no framework, no build step).
// The session lives in localStorage and goes out as a bearer token; no cookie is involved.
"use strict";

const Momento = (() => {
  const KEY = "momento.session";
  const GOTRUE = { "Content-Type": "application/json", "X-Supabase-Api-Version": "2024-01-01" };

  class ApiError extends Error {
    constructor(status, body) {
      super((body && (body.detail || body.msg || body.message || body.title)) || `HTTP ${status}`);
      this.status = status;
      this.code = body && (body.code || body.error_code);
      this.body = body;
    }
  }

  function session() {
    try {
      return JSON.parse(localStorage.getItem(KEY) || "null");
    } catch (e) {
      return null;
    }
  }

  function save(s) {
    localStorage.setItem(
      KEY,
      JSON.stringify({
        access_token: s.access_token,
        refresh_token: s.refresh_token,
        expires_at: s.expires_at || Math.floor(Date.now() / 1000) + (s.expires_in || 3600),
        user: s.user,
      }),
    );
  }

  function forget() {
    localStorage.removeItem(KEY);
  }

  async function body(r) {
    const text = await r.text();
    try {
      return text ? JSON.parse(text) : null;
    } catch (e) {
      return { detail: text };
    }
  }

  async function auth(path, payload) {
    const r = await fetch(`/auth/v1${path}`, {
      method: "POST",
      headers: GOTRUE,
      body: JSON.stringify(payload),
    });
    const b = await body(r);
    if (!r.ok) throw new ApiError(r.status, b);
    save(b);
    return b;
  }

  // A guest: GoTrue's anonymous sign-in, with the name the others will see.
  const signInAsGuest = (displayName) => auth("/signup", { data: { display_name: displayName } });
  const signIn = (email, password) => auth("/token?grant_type=password", { email, password });

  // A guest keeps their photos by becoming an account: GoTrue's PUT /user with an address and
  // a password (same user id, so every photo and membership stays theirs). With email
  // confirmation off it is done at once (the session is refreshed so that its token says so);
  // otherwise the mailed link finishes it. Answers the user as it is now.
  async function keepAsAccount(email, password) {
    const r = await fetch("/auth/v1/user", {
      method: "PUT",
      headers: { ...GOTRUE, Authorization: `Bearer ${await token()}` },
      body: JSON.stringify({ email, password }),
    });
    const user = await body(r);
    if (!r.ok) throw new ApiError(r.status, user);
    if (!user.is_anonymous) await refresh();
    return user;
  }

  let refreshing = null;
  async function refresh() {
    const s = session();
    if (!s || !s.refresh_token) throw new ApiError(401, { code: "no_session" });
    refreshing =
      refreshing ||
      auth("/token?grant_type=refresh_token", { refresh_token: s.refresh_token }).finally(() => {
        refreshing = null;
      });
    return refreshing;
  }

  async function token() {
    let s = session();
    if (!s) return null;
    if (s.expires_at - 60 < Date.now() / 1000) {
      try {
        s = await refresh();
      } catch (e) {
        if (e.status === 400 || e.status === 401 || e.status === 403) forget();
        throw e;
      }
    }
    return s.access_token;
  }

  // A call of /v1 as the signed-in user: the parsed JSON, or an ApiError.
  async function api(method, path, payload) {
    for (let attempt = 0; attempt < 2; attempt++) {
      const headers = { Authorization: `Bearer ${await token()}` };
      if (payload !== undefined) headers["Content-Type"] = "application/json";
      const r = await fetch(path, {
        method,
        headers,
        body: payload === undefined ? undefined : JSON.stringify(payload),
        cache: "no-store",
      });
      if (r.status === 401 && attempt === 0 && session()) {
        await refresh(); // revoked or expired early: once more with a fresh token
        continue;
      }
      const b = await body(r);
      if (!r.ok) throw new ApiError(r.status, b);
      return b;
    }
    return null;
  }

  // Join by code (201 joined now, 200 already a member): the event.
  const join = (code) => api("POST", "/v1/events/join", { join_code: code });

  // Every page of a feed ("photos" or "photos/liked").
  async function allPages(eventId, which = "photos") {
    const items = [];
    let cursor = null;
    let first = null;
    do {
      const q = new URLSearchParams({ limit: "100" });
      if (cursor) q.set("cursor", cursor);
      const page = await api("GET", `/v1/events/${eventId}/${which}?${q}`);
      first = first || page;
      items.push(...page.items);
      cursor = page.next_cursor;
    } while (cursor);
    return { ...first, items };
  }

  // Every message type of the realtime stream: each means "look again".
  const STREAM_EVENTS = [
    "member_joined", "member_left", "photo_added", "photo_removed", "like_count",
    "revealed", "event_updated", "event_deleted", "resync", "end",
  ];

  // The event and its feed, now and whenever it changes: `onChange(event, feed)`. Changes come
  // from the realtime stream (EventSource on a single-use ticket: the access token never goes
  // in a URL); each message makes it read the event and the feed again, through the same API
  // and policies as any read. A slow poll (`every` × 6) stays as a safety net, and while the
  // stream cannot be had it polls every `every` ms. Network errors are reported with
  // `onError` and retried with backoff; returns an object that stops it.
  function live(eventId, onChange, { every = 10000, onError = () => {} } = {}) {
    let stopped = false;
    let timer = null;
    let wait = every;
    let busy = false; // one look at a time: a call while one runs asks for another after it
    let again = false;
    async function tick() {
      if (stopped) return;
      if (busy) {
        again = true;
        return;
      }
      busy = true;
      clearTimeout(timer);
      try {
        const event = await api("GET", `/v1/events/${eventId}`);
        const feed = await allPages(eventId);
        wait = every;
        onChange(event, feed);
      } catch (e) {
        onError(e);
        wait = Math.min(wait * 2, 60000);
      } finally {
        busy = false;
      }
      if (again) {
        again = false;
        tick();
      } else if (!stopped) {
        timer = setTimeout(tick, wait);
      }
    }
    // Back online: look at once rather than at the end of the backoff.
    const online = () => {
      wait = every;
      tick();
    };
    window.addEventListener("online", online);

    // The stream. A ticket is good once, so EventSource's own reconnection cannot be used: on
    // an error or an `end` it is closed and opened again on a fresh ticket, after a backoff.
    let source = null;
    let reopen = null;
    let streamWait = 1000;
    async function openStream() {
      if (stopped || typeof EventSource === "undefined") return;
      try {
        const { ticket } = await api("POST", `/v1/events/${eventId}/stream-ticket`);
        if (stopped) return;
        source = new EventSource(
          `/v1/events/${eventId}/stream?ticket=${encodeURIComponent(ticket)}`
        );
        source.onopen = () => {
          streamWait = 1000;
          every = slowEvery; // the stream tells us; the poll is only a safety net now
        };
        for (const type of STREAM_EVENTS) source.addEventListener(type, () => tick());
        source.addEventListener("end", () => closeStream(true));
        source.onerror = () => closeStream(true);
      } catch (e) {
        closeStream(true);
      }
    }
    function closeStream(again) {
      if (source) source.close();
      source = null;
      every = fastEvery; // poll as before until the stream is back
      clearTimeout(reopen);
      if (again && !stopped) {
        reopen = setTimeout(openStream, streamWait);
        streamWait = Math.min(streamWait * 2, 30000);
      }
    }
    const fastEvery = every;
    const slowEvery = every * 6;

    tick();
    openStream();
    return {
      stop() {
        stopped = true;
        clearTimeout(timer);
        closeStream(false);
        window.removeEventListener("online", online);
      },
      now: tick,
    };
  }

  // HEIC often comes with no type from the file picker.
  function contentType(file) {
    if (file.type) return file.type.toLowerCase();
    const ext = (file.name.split(".").pop() || "").toLowerCase();
    return (
      { heic: "image/heic", heif: "image/heif", jpg: "image/jpeg", jpeg: "image/jpeg",
        png: "image/png", webp: "image/webp" }[ext] || "application/octet-stream"
    );
  }

  // The capture time the server accepts: the file's time if inside the event, else now
  // (both kept between the start and the reveal).
  function capturedAt(file, event) {
    const start = Date.parse(event.starts_at);
    const end = Math.min(Date.now(), Date.parse(event.release_at));
    let t = file.lastModified || Date.now();
    if (t < start || t > end) t = Math.max(start, Math.min(Date.now(), end));
    return new Date(t).toISOString();
  }

  function put(target, file, onProgress) {
    return new Promise((resolve, reject) => {
      const xhr = new XMLHttpRequest();
      xhr.open(target.method || "PUT", target.url);
      for (const [k, v] of Object.entries(target.headers || {})) xhr.setRequestHeader(k, v);
      xhr.upload.onprogress = (e) => e.lengthComputable && onProgress(e.loaded / e.total);
      xhr.onload = () =>
        xhr.status >= 200 && xhr.status < 300
          ? resolve()
          : reject(new ApiError(xhr.status, { detail: `Upload refused (${xhr.status})` }));
      xhr.onerror = () => reject(new ApiError(0, { detail: "Network error during upload" }));
      xhr.send(file);
    });
  }

  // One file through create -> signed PUT -> complete. `state.photoId` is kept between
  // attempts, so a retry resumes the same photo (create with the same id, or /retry).
  async function upload(event, file, state, onProgress) {
    const type = contentType(file);
    let created;
    if (state.failedPhoto) {
      created = await api("POST", `/v1/photos/${state.photoId}/retry`, {
        content_type: type,
        byte_size: file.size,
      });
      state.failedPhoto = false;
    } else {
      state.photoId = state.photoId || crypto.randomUUID();
      created = await api("POST", `/v1/events/${event.id}/photos`, {
        id: state.photoId,
        captured_at: capturedAt(file, event),
        content_type: type,
        byte_size: file.size,
      });
    }
    if (created.upload) await put(created.upload, file, onProgress);
    onProgress(1);
    try {
      return await api("POST", `/v1/photos/${state.photoId}/complete`);
    } catch (e) {
      if (e.code === "photo_rejected") state.failedPhoto = true;
      throw e;
    }
  }

  // The ZIP through a single-use link (a download cannot send the bearer token).
  async function downloadZip(eventId) {
    const link = await api("POST", `/v1/events/${eventId}/export/link`);
    const a = document.createElement("a");
    a.href = link.url;
    a.rel = "noopener noreferrer";
    document.body.appendChild(a);
    a.click();
    a.remove();
  }

  function countdown(ms) {
    if (ms <= 0) return "now";
    const s = Math.floor(ms / 1000);
    const d = Math.floor(s / 86400);
    const h = Math.floor((s % 86400) / 3600);
    const m = Math.floor((s % 3600) / 60);
    const pad = (n) => String(n).padStart(2, "0");
    return (d ? `${d}d ` : "") + `${pad(h)}:${pad(m)}:${pad(s % 60)}`;
  }

  // Sign-in and join shared by both pages: `onJoined(event)` once the caller is a member.
  function joinFlow(code, onJoined) {
    const box = document.getElementById("join");
    const error = document.getElementById("join-error");
    const showError = (e) => {
      error.hidden = false;
      error.textContent =
        {
          join_code_invalid: "This invitation no longer works. Ask the host for the new code.",
          web_guests_off: "The host only lets people with a Momento account join this event.",
          anonymous_provider_disabled: "Guests cannot join on this server; sign in instead.",
          invalid_credentials: "Wrong email or password.",
        }[e.code] || e.message;
    };
    async function enter() {
      try {
        const event = await join(code);
        box.hidden = true;
        onJoined(event);
      } catch (e) {
        if (e.status === 401) {
          forget();
          box.hidden = false;
        } else {
          box.hidden = false;
          showError(e);
        }
      }
    }
    const guest = document.getElementById("guest-form");
    guest.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      error.hidden = true;
      try {
        await signInAsGuest(document.getElementById("display-name").value.trim());
        await enter();
      } catch (e) {
        showError(e);
      }
    });
    document.getElementById("login-form").addEventListener("submit", async (ev) => {
      ev.preventDefault();
      error.hidden = true;
      try {
        await signIn(
          document.getElementById("email").value.trim(),
          document.getElementById("password").value,
        );
        await enter();
      } catch (e) {
        showError(e);
      }
    });
    if (session()) enter();
    else box.hidden = false;
  }

  return {
    ApiError, session, forget, api, join, allPages, live, upload, downloadZip, countdown,
    keepAsAccount,
    joinFlow, contentType,
  };
})();
