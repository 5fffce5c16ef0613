#!/usr/bin/env bash
# Fetches the test corpus that ships in llama-cpp-python's source distribution: llama.cpp's
# vocabulary files with their tokenizer test cases (models/ggml-vocab-*.gguf, .inp, .out)
# and its chat templates (models/templates/). Only those are kept, in
#   ${WREN_FIXTURES:-<wren cache>/fixtures/llama-cpp-python-0.3.36}/{vocab,templates}/
# Idempotent: does nothing when the folder is complete. Prints the folder.
set -euo pipefail
VERSION=0.3.36
cache="${WREN_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/wren}"
dest="${WREN_FIXTURES:-$cache/fixtures/llama-cpp-python-$VERSION}"
if [ -f "$dest/.complete" ]; then
  echo "$dest"
  exit 0
fi
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
python3 -m pip download --quiet --no-deps --no-binary llama-cpp-python \
  --disable-pip-version-check "llama-cpp-python==$VERSION" -d "$tmp" >&2
tar -xzf "$tmp"/llama_cpp_python-$VERSION.tar.gz -C "$tmp" \
  "llama_cpp_python-$VERSION/vendor/llama.cpp/models"
src="$tmp/llama_cpp_python-$VERSION/vendor/llama.cpp/models"
mkdir -p "$dest.partial/vocab" "$dest.partial/templates"
cp "$src"/ggml-vocab-* "$dest.partial/vocab/"
cp -r "$src"/templates/. "$dest.partial/templates/"
touch "$dest.partial/.complete"
rm -rf "$dest"
mv "$dest.partial" "$dest"
echo "$dest"
