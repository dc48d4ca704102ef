#!/usr/bin/env bash
# Re-create the upkit drizzle/PostgreSQL migration corpus from the public repositories.
# Usage: fetch.sh DEST_DIR   (upkit keeps them in .corpora/, which git ignores: test/corpora/fetch.sh .corpora)
# Each corpus is the project's drizzle-kit migrations folder (SQL files + meta/) at a pinned
# commit, copied to DEST_DIR/<name>/ with the folder's own layout. Needs git >= 2.25 and network.
# The corpus is test input only: keep it out of upkit's git history (licences differ per project,
# see test/corpora/README.md).
# CORPUS_GIT_URL may override the remote, e.g. CORPUS_GIT_URL='file:///mirrors/%s.git' (%s = owner/name).
set -euo pipefail
DEST=${1:?usage: fetch.sh DEST_DIR}
URL_TEMPLATE=${CORPUS_GIT_URL:-https://github.com/%s.git}
# Only for testing against local bare mirrors (file:// remotes): an upload-pack command that
# allows filters and fetching by commit id, which public code hosts allow anyway.
UP=${CORPUS_UPLOAD_PACK:-}
HERE=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$DEST"
DEST=$(cd "$DEST" && pwd)

# name  repository  commit  folder-inside-repository
while read -r name repo commit path; do
  [ -z "$name" ] && continue
  echo "== $name: $repo@$commit:$path"
  tmp=$(mktemp -d)
  git -C "$tmp" init -q
  git -C "$tmp" remote add origin "$(printf "$URL_TEMPLATE" "$repo")"
  git -C "$tmp" config core.sparseCheckout true
  printf '/%s/\n' "$path" > "$tmp/.git/info/sparse-checkout"
  git -C "$tmp" -c protocol.version=2 fetch -q --depth 1 --filter=blob:none ${UP:+--upload-pack="$UP"} origin "$commit"
  git -C "$tmp" -c protocol.version=2 ${UP:+-c remote.origin.uploadpack="$UP"} checkout -q FETCH_HEAD
  rm -rf "${DEST:?}/$name"
  mkdir -p "$DEST/$name"
  cp -a "$tmp/$path/." "$DEST/$name/"
  rm -rf "$tmp"
done <<'LIST'
dokploy   Dokploy/dokploy            9714695d5a78fe24496f989ab81807ba04699df8 apps/dokploy/drizzle
sim       simstudioai/sim            0b232eb876e2e0a474dbabd1e53b370cd643076a packages/db/migrations
latitude  latitude-dev/latitude-llm  d217528da065e4eb06a5adae8acbf41564c17980 packages/core/drizzle
kan       kanbn/kan                  0e1f25fc2c524ee3fd1d490a3227aad0d3bfde4c packages/db/migrations
zero      Mail-0/Zero                0f0b8e1fce8337eac4eaf8dd2cd556678bfce939 packages/db/migrations
tambo     tambo-ai/tambo             6861a3f2aab69a6c05696e1d7bf755197987862d packages/db/migrations
LIST

if [ -f "$HERE/MANIFEST.sha256" ]; then
  echo "== verifying against MANIFEST.sha256"
  (cd "$DEST" && sha256sum --quiet -c "$HERE/MANIFEST.sha256")
  extra=$(cd "$DEST" && find dokploy sim latitude kan zero tambo -type f | LC_ALL=C sort | comm -13 <(awk '{print $2}' "$HERE/MANIFEST.sha256" | LC_ALL=C sort) -)
  [ -z "$extra" ] || { echo "files not in manifest:"; echo "$extra"; exit 1; }
  echo "all files match"
fi
