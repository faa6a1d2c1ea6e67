// revshare dashboard: the Verify button (Ed25519 in the browser with WebCrypto) and
// the Print button. No library; compiled into the binary.
"use strict";

// RFC 8785 (JCS): the signature covers JCS(the statement without "signature").
function jcs(value) {
  if (value === null || typeof value === "boolean" || typeof value === "string") {
    return JSON.stringify(value);
  }
  if (typeof value === "number") {
    if (!Number.isFinite(value) || (Number.isInteger(value) && !Number.isSafeInteger(value))) {
      throw new Error("a number beyond what a browser reads exactly: check the JSON offline with revshare verify");
    }
    return JSON.stringify(value);
  }
  if (Array.isArray(value)) {
    return "[" + value.map(jcs).join(",") + "]";
  }
  const keys = Object.keys(value).sort(); // UTF-16 code unit order, as JCS sorts
  return "{" + keys.map((k) => JSON.stringify(k) + ":" + jcs(value[k])).join(",") + "}";
}

function fromBase64(text) {
  const bin = atob(text);
  const bytes = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
  return bytes;
}

function hex(buffer) {
  return Array.from(new Uint8Array(buffer), (b) => b.toString(16).padStart(2, "0")).join("");
}

async function verify() {
  const section = document.getElementById("verify");
  const out = document.getElementById("verify-result");
  out.className = "";
  out.textContent = "Checking…";
  try {
    const keys = JSON.parse(section.dataset.keys);
    const doc = JSON.parse(document.getElementById("signed-json").textContent);
    const signature = doc.signature;
    if (!signature || signature.alg !== "ed25519") throw new Error("the document carries no Ed25519 signature");
    delete doc.signature;
    const key = keys.find((k) => k.key_id === signature.key_id);
    if (!key) throw new Error("no public key " + signature.key_id + " among the store's keys");
    const raw = fromBase64(key.public_key);
    const fingerprint = hex(await crypto.subtle.digest("SHA-256", raw));
    const publicKey = await crypto.subtle.importKey("raw", raw, { name: "Ed25519" }, false, ["verify"]);
    const signed = new TextEncoder().encode(jcs(doc));
    const ok = await crypto.subtle.verify({ name: "Ed25519" }, publicKey, fromBase64(signature.value), signed);
    const about = " Key " + key.key_id + ", SHA-256 fingerprint " + fingerprint.match(/.{1,8}/g).join(" ") +
      ". The page and the key both come from the operator: compare the fingerprint with the one you hold.";
    out.className = ok ? "ok" : "bad";
    out.textContent = (ok ? "Valid: the signature matches this document." : "NOT valid: the signature does not match this document.") + about;
    out.dataset.outcome = ok ? "valid" : "invalid";
  } catch (error) {
    out.className = "bad";
    out.textContent = "Could not verify here: " + error.message;
    out.dataset.outcome = "error";
  }
}

document.addEventListener("DOMContentLoaded", () => {
  const button = document.getElementById("verify-button");
  if (button) button.addEventListener("click", verify);
  const print = document.getElementById("print");
  if (print) print.addEventListener("click", () => window.print());
});
