// Names as PostgreSQL stores them. An identifier longer than NAMEDATALEN-1 (63) bytes is cut
// to 63 bytes at a character boundary (pg_mbcliplen, UTF-8 server encoding), with only a
// NOTICE; a name PostgreSQL chooses itself (`users_pkey`) is made by makeObjectName(), which
// shortens the longer part so that the label still fits. Expected names from snapshots go
// through these before they are compared with the catalog's.
const NAME_BYTES = 63;

/** The longest prefix of `name` that fits in `bytes` UTF-8 bytes, ending on a character boundary. */
export function clipBytes(name: string, bytes: number): string {
  if (Buffer.byteLength(name) <= bytes) return name;
  let out = '';
  let used = 0;
  for (const ch of name) {
    const n = Buffer.byteLength(ch);
    if (used + n > bytes) break;
    out += ch;
    used += n;
  }
  return out;
}

/** What PostgreSQL stores for the identifier `name`. */
export function pgName(name: string): string {
  return clipBytes(name, NAME_BYTES);
}

/** makeObjectName(name1, name2, label): `name1_name2_label` shortened as PostgreSQL does for the names it chooses. */
export function pgObjectName(name1: string, name2: string | null, label: string): string {
  const overhead = label.length + 1 + (name2 === null ? 0 : 1);
  const avail = NAME_BYTES - overhead;
  let n1 = Buffer.byteLength(name1);
  let n2 = name2 === null ? 0 : Buffer.byteLength(name2);
  while (n1 + n2 > avail) {
    if (n1 > n2) n1--;
    else n2--;
  }
  const head = clipBytes(name1, n1);
  return name2 === null ? `${head}_${label}` : `${head}_${clipBytes(name2, n2)}_${label}`;
}
