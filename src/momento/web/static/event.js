// The event page of /j/{code}: join, then the countdown and my photos before the reveal,
// the gallery after it, uploads at any time the event takes them.
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);
  const code = document.body.dataset.code;
  let event = null;
  let feed = null;
  let liked = null;
  let tab = "all";
  let stream = null;
  let ticking = null;
  const tiles = new Map(); // photo id -> tile element, kept across refreshes (no flicker)

  function setStatus(text) {
    $("status").textContent = text || "";
    $("status").hidden = !text;
  }

  function start(joined) {
    event = joined;
    setStatus("");
    const s = Momento.session();
    const meta = (s && s.user && s.user.user_metadata) || {};
    $("who").textContent = meta.display_name || (s && s.user && s.user.email) || "";
    $("event").hidden = false;
    $("keep").hidden = !(s && s.user && s.user.is_anonymous);
    stream = Momento.live(event.id, render, {
      onError: (e) => setStatus(e.status ? e.message : "Offline: retrying…"),
    });
  }

  function render(ev, page) {
    setStatus("");
    event = ev;
    feed = page;
    $("event-name").textContent = ev.name;
    const people = `${ev.member_count} ${ev.member_count === 1 ? "person" : "people"}`;
    const photos = `${page.total_count} ${page.total_count === 1 ? "photo" : "photos"}`;
    $("event-totals").textContent = `${photos} · ${people}`;
    document.body.classList.toggle("revealed", ev.revealed);
    $("before").hidden = ev.revealed;
    $("tabs").hidden = !ev.revealed;
    clearInterval(ticking);
    if (!ev.revealed) {
      const release = Date.parse(ev.release_at);
      const tick = () => {
        const left = release - Date.now();
        $("countdown").textContent = Momento.countdown(left);
        if (left <= 0) {
          clearInterval(ticking);
          setTimeout(() => stream.now(), 1000); // the reveal: load everyone's photos
        }
      };
      tick();
      ticking = setInterval(tick, 1000);
      $("grid-title").textContent = "My photos";
      draw(page.items);
    } else if (tab === "liked") {
      refreshLiked();
    } else {
      $("grid-title").textContent = "All photos";
      draw(page.items);
    }
  }

  async function refreshLiked() {
    liked = await Momento.allPages(event.id, "photos/liked");
    $("grid-title").textContent = "Photos I liked";
    draw(liked.items);
  }

  function tile(item) {
    let el = tiles.get(item.id);
    if (!el) {
      el = document.createElement("button");
      el.type = "button";
      el.className = "tile";
      el.dataset.photoId = item.id;
      if (item.blurhash) {
        try {
          el.style.backgroundImage = `url(${Blurhash.dataURL(item.blurhash)})`;
        } catch (e) {
          /* a bad hash only loses the placeholder */
        }
      }
      const img = document.createElement("img");
      img.loading = "lazy";
      img.alt = `Photo by ${item.username}`;
      img.addEventListener("load", () => img.classList.add("loaded"));
      img.src = item.urls.thumbnail;
      el.appendChild(img);
      const heart = document.createElement("span");
      heart.className = "heart";
      el.appendChild(heart);
      el.addEventListener("click", () => open(el.item));
      tiles.set(item.id, el);
    }
    el.item = item;
    el.classList.toggle("liked", item.liked_by_me);
    el.querySelector(".heart").textContent = item.like_count ? `♥ ${item.like_count}` : "";
    return el;
  }

  function draw(items) {
    const grid = $("grid");
    const wanted = items.map(tile);
    // Replace the children only when they differ: a poll with nothing new changes nothing.
    const same =
      grid.children.length === wanted.length && wanted.every((el, i) => grid.children[i] === el);
    if (!same) grid.replaceChildren(...wanted);
    $("empty").hidden = items.length > 0;
  }

  function open(item) {
    const viewer = $("viewer");
    viewer.item = item;
    $("viewer-img").src = item.urls.display;
    $("viewer-img").alt = `Photo by ${item.username}`;
    $("viewer-download").href = item.urls.original;
    $("viewer-download").setAttribute("download", "");
    syncLike(item);
    $("viewer-like").hidden = !event.revealed;
    viewer.showModal();
  }

  function syncLike(item) {
    $("viewer-like").setAttribute("aria-pressed", String(item.liked_by_me));
    $("viewer-like").textContent = item.liked_by_me ? `♥ Liked (${item.like_count})` : "♡ Like";
  }

  $("viewer-close").addEventListener("click", () => $("viewer").close());
  $("viewer-like").addEventListener("click", async () => {
    const item = $("viewer").item;
    const like = !item.liked_by_me;
    try {
      await Momento.api(like ? "PUT" : "DELETE", `/v1/photos/${item.id}/like`);
      item.liked_by_me = like;
      item.like_count += like ? 1 : -1;
      syncLike(item);
      tile(item);
    } catch (e) {
      setStatus(e.message);
    }
  });

  for (const b of document.querySelectorAll("#tabs [data-tab]")) {
    b.addEventListener("click", () => {
      tab = b.dataset.tab;
      for (const o of document.querySelectorAll("#tabs [data-tab]")) {
        o.classList.toggle("active", o === b);
      }
      render(event, feed);
    });
  }

  $("zip").addEventListener("click", async () => {
    try {
      await Momento.downloadZip(event.id);
    } catch (e) {
      setStatus(e.message);
    }
  });

  // --- uploads: each file its own row, progress and retry; two at a time -----------------
  const queue = [];
  let running = 0;

  function enqueue(file) {
    const li = document.createElement("li");
    li.className = "upload-row";
    li.innerHTML =
      '<span class="name"></span><progress max="1" value="0"></progress>' +
      '<span class="state">waiting</span><button type="button" class="retry" hidden>Retry</button>';
    li.querySelector(".name").textContent = file.name;
    $("uploads").appendChild(li);
    const job = { file, li, state: {} };
    li.querySelector(".retry").addEventListener("click", () => {
      li.querySelector(".retry").hidden = true;
      queue.push(job);
      pump();
    });
    queue.push(job);
    pump();
  }

  function pump() {
    while (running < 2 && queue.length) {
      const job = queue.shift();
      running++;
      run(job).finally(() => {
        running--;
        pump();
      });
    }
  }

  async function run(job) {
    const { li } = job;
    const bar = li.querySelector("progress");
    const state = li.querySelector(".state");
    li.className = "upload-row busy";
    state.textContent = "uploading";
    try {
      await Momento.upload(event, job.file, job.state, (f) => {
        bar.value = f;
      });
      li.className = "upload-row done";
      state.textContent = "done";
      stream.now();
    } catch (e) {
      li.className = "upload-row failed";
      state.textContent = e.message;
      // Refusals that another try cannot fix get no retry button.
      const final = ["photo_limit_reached", "uploads_closed", "unsupported_type", "too_large"];
      li.querySelector(".retry").hidden = final.includes(e.code);
    }
  }

  $("files").addEventListener("change", (ev) => {
    for (const f of ev.target.files) enqueue(f);
    ev.target.value = "";
  });

  Momento.joinFlow(code, start);
  setStatus("");
  $("keep-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const result = $("keep-result");
    result.hidden = false;
    try {
      const email = $("keep-email").value.trim();
      const user = await Momento.keepAsAccount(email, $("keep-password").value);
      if (user.is_anonymous) {
        result.textContent = `Almost there: open the link we sent to ${email}.`;
      } else {
        result.textContent = `Done: your photos are kept under ${user.email}.`;
        $("keep-form").hidden = true;
        $("who").textContent = user.email;
      }
    } catch (err) {
      result.textContent =
        {
          email_exists: "That email already has an account: sign in with it instead.",
          weak_password: "Choose a longer or less common password.",
        }[err.code] || err.message;
    }
  });

})();
