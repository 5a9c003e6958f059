// The slideshow of /j/{code}/show: before the reveal the countdown and how many photos are
// waiting (never a photo); from release_at the revealed photos in a loop, new ones joining.
// Keys: left/right, space (pause), F (full screen). A network drop keeps the show going.
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);
  const code = document.body.dataset.code;
  const query = new URLSearchParams(location.search);
  const SLIDE_MS = Number(query.get("every")) || 6000; // each photo's time on screen
  const POLL_MS = Number(query.get("poll")) || 10000; // how often new photos are looked for
  let photos = [];
  let index = -1;
  let paused = false;
  let timer = null;
  let ticking = null;
  let stream = null;

  function start(event) {
    stream = Momento.live(event.id, update, {
      every: POLL_MS,
      onError: () => {
        $("offline").hidden = false;
      },
    });
  }

  function update(event, feed) {
    $("offline").hidden = true;
    clearInterval(ticking);
    if (!event.revealed) {
      photos = [];
      $("slide").hidden = true;
      $("waiting").hidden = false;
      $("show-name").textContent = event.name;
      const n = event.photo_count;
      $("waiting-count").textContent = `${n} ${n === 1 ? "photo is" : "photos are"} waiting`;
      const release = Date.parse(event.release_at);
      const tick = () => {
        const left = release - Date.now();
        $("countdown").textContent = Momento.countdown(left);
        if (left <= 0) {
          clearInterval(ticking);
          setTimeout(() => stream.now(), 500); // the reveal: start by itself
        }
      };
      tick();
      ticking = setInterval(tick, 1000);
      return;
    }
    $("waiting").hidden = true;
    const known = new Set(photos.map((p) => p.id));
    const fresh = feed.items.filter((p) => !known.has(p.id));
    // Keep the order shown; new photos go next, so they appear soon after they arrive.
    const byId = new Map(feed.items.map((p) => [p.id, p]));
    photos = photos.filter((p) => byId.has(p.id)).map((p) => byId.get(p.id)); // fresh URLs
    photos.splice(index + 1, 0, ...fresh);
    $("slide").hidden = photos.length === 0;
    document.body.dataset.photos = String(photos.length);
    if (photos.length && (index < 0 || timer === null)) show(index < 0 ? 0 : index);
  }

  function show(i) {
    if (!photos.length) return;
    index = ((i % photos.length) + photos.length) % photos.length;
    const p = photos[index];
    const img = $("slide-img");
    const next = new Image();
    next.onload = () => {
      img.src = next.src;
      img.dataset.photoId = p.id;
      $("slide-caption").textContent = p.username;
    };
    next.onerror = () => stream && stream.now(); // an expired URL: fetch fresh ones
    next.src = p.urls.display;
    schedule();
  }

  function schedule() {
    clearTimeout(timer);
    timer = paused ? null : setTimeout(() => show(index + 1), SLIDE_MS);
  }

  document.addEventListener("keydown", (e) => {
    if (e.target instanceof HTMLInputElement) return;
    if (e.key === "ArrowRight") show(index + 1);
    else if (e.key === "ArrowLeft") show(index - 1);
    else if (e.key === " ") {
      paused = !paused;
      document.body.classList.toggle("paused", paused);
      schedule();
      e.preventDefault();
    } else if (e.key === "f" || e.key === "F") {
      if (document.fullscreenElement) document.exitFullscreen();
      else document.documentElement.requestFullscreen().catch(() => {});
    }
  });

  let hintTimer = setTimeout(() => $("hint").classList.add("faded"), 5000);
  document.addEventListener("mousemove", () => {
    $("hint").classList.remove("faded");
    clearTimeout(hintTimer);
    hintTimer = setTimeout(() => $("hint").classList.add("faded"), 3000);
  });

  Momento.joinFlow(code, start);
})();
