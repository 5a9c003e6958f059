// A BlurHash decoder (the algorithm of https://blurha.sh, written for Momento; MIT-licensed
// like the reference implementation it follows): a photo's placeholder while it loads.
"use strict";

const Blurhash = (() => {
  const CHARS =
    "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz#$%*+,-.:;=?@[]^_{|}~";

  const decode83 = (s) => {
    let v = 0;
    for (const c of s) {
      const d = CHARS.indexOf(c);
      if (d < 0) throw new Error("not a blurhash");
      v = v * 83 + d;
    }
    return v;
  };
  const toLinear = (v) => {
    const x = v / 255;
    return x <= 0.04045 ? x / 12.92 : Math.pow((x + 0.055) / 1.055, 2.4);
  };
  const toSRGB = (v) => {
    const x = Math.max(0, Math.min(1, v));
    return x <= 0.0031308
      ? Math.round(x * 12.92 * 255 + 0.5)
      : Math.round((1.055 * Math.pow(x, 1 / 2.4) - 0.055) * 255 + 0.5);
  };
  const signPow = (v, e) => Math.sign(v) * Math.pow(Math.abs(v), e);

  // RGBA pixels (Uint8ClampedArray) of a width x height rendering of `hash`.
  function decode(hash, width, height, punch = 1) {
    if (!hash || hash.length < 6) throw new Error("not a blurhash");
    const size = decode83(hash[0]);
    const ny = Math.floor(size / 9) + 1;
    const nx = (size % 9) + 1;
    if (hash.length !== 4 + 2 * nx * ny) throw new Error("not a blurhash");
    const maxAC = ((decode83(hash[1]) + 1) / 166) * punch;
    const colors = [];
    const dc = decode83(hash.substring(2, 6));
    colors.push([toLinear(dc >> 16), toLinear((dc >> 8) & 255), toLinear(dc & 255)]);
    for (let i = 1; i < nx * ny; i++) {
      const v = decode83(hash.substring(4 + i * 2, 6 + i * 2));
      colors.push([
        signPow((Math.floor(v / 361) - 9) / 9, 2) * maxAC,
        signPow(((Math.floor(v / 19) % 19) - 9) / 9, 2) * maxAC,
        signPow(((v % 19) - 9) / 9, 2) * maxAC,
      ]);
    }
    const pixels = new Uint8ClampedArray(width * height * 4);
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        let r = 0, g = 0, b = 0;
        for (let j = 0; j < ny; j++) {
          const by = Math.cos((Math.PI * y * j) / height);
          for (let i = 0; i < nx; i++) {
            const basis = Math.cos((Math.PI * x * i) / width) * by;
            const c = colors[i + j * nx];
            r += c[0] * basis;
            g += c[1] * basis;
            b += c[2] * basis;
          }
        }
        const p = 4 * (x + y * width);
        pixels[p] = toSRGB(r);
        pixels[p + 1] = toSRGB(g);
        pixels[p + 2] = toSRGB(b);
        pixels[p + 3] = 255;
      }
    }
    return pixels;
  }

  // A data: URL of a small rendering, for a CSS background or an <img> placeholder.
  function dataURL(hash, width = 32, height = 32) {
    const canvas = document.createElement("canvas");
    canvas.width = width;
    canvas.height = height;
    const ctx = canvas.getContext("2d");
    const img = ctx.createImageData(width, height);
    img.data.set(decode(hash, width, height));
    ctx.putImageData(img, 0, 0);
    return canvas.toDataURL();
  }

  return { decode, dataURL };
})();
