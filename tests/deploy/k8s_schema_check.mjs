// Validates Kubernetes objects (a multi-document YAML stream converted to a
// JSON array by the caller) against the Kubernetes 1.31 API definitions,
// offline. The definitions come from cdk8s-plus-31's k8s.d.ts, which is
// generated from the Kubernetes 1.31 OpenAPI definitions: every property
// carries "@schema <definition>#<json name>", its type and whether it is
// optional. Checked per object: the apiVersion/kind is a 1.31 API, no unknown
// fields, every required field present, and each value of the declared JSON
// type, recursively. Objects of other APIs (CRDs such as cert-manager's or
// the Prometheus operator's) are listed as not checked.
//
//   node k8s_schema_check.mjs K8S_D_TS K8S_JS OBJECTS.json
import fs from 'node:fs';

const [dts, js, objectsFile] = process.argv.slice(2);
const src = fs.readFileSync(dts, 'utf8').split('\n');

// interface name -> Map(json name -> {type, optional})
const interfaces = new Map();
const enums = new Set();
const scalarClasses = new Set(['IntOrString', 'Quantity']);
for (let i = 0; i < src.length; i++) {
  let m = src[i].match(/^export declare enum (\w+)/);
  if (m) enums.add(m[1]);
  m = src[i].match(/^export interface (\w+) \{/);
  if (!m) continue;
  const props = new Map();
  let json = null;
  for (i++; i < src.length && src[i] !== '}'; i++) {
    const s = src[i].match(/@schema [^#\s]+#(\S+)/);
    if (s) json = s[1];
    const p = src[i].match(/^    readonly (\w+)(\?)?: (.*)$/);
    if (!p) continue;
    let type = p[3];
    while (!type.trimEnd().endsWith(';') || (type.split('{').length !== type.split('}').length)) {
      type += ' ' + src[++i].trim();
    }
    props.set(json ?? p[1], {type: type.trim().replace(/;$/, '').trim(), optional: p[2] === '?'});
    json = null;
  }
  interfaces.set(m[1], props);
}
// "apiVersion kind" -> props interface, from "KubeX.GVK = { apiVersion: 'a', kind: 'k' }"
const kinds = new Map();
for (const m of fs.readFileSync(js, 'utf8').matchAll(/(Kube\w+)\.GVK = \{\s*apiVersion: '([^']+)',\s*kind: '([^']+)'/g)) {
  kinds.set(`${m[2]} ${m[3]}`, `${m[1]}Props`);
}

function check(value, type, path, errors) {
  const t = type.trim();
  if (t === 'any') return;
  if (t.endsWith('[]')) {
    if (!Array.isArray(value)) return errors.push(`${path}: expected an array, got ${JSON.stringify(value)}`);
    value.forEach((v, i) => check(v, t.slice(0, -2), `${path}[${i}]`, errors));
    return;
  }
  const map = t.match(/^\{\s*\[key: string\]: (.*?);?\s*\}$/);
  if (map) {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      return errors.push(`${path}: expected a map, got ${JSON.stringify(value)}`);
    }
    for (const [k, v] of Object.entries(value)) check(v, map[1], `${path}.${k}`, errors);
    return;
  }
  if (t === 'string' || enums.has(t)) {
    if (typeof value !== 'string') errors.push(`${path}: expected a string, got ${JSON.stringify(value)}`);
    return;
  }
  if (t === 'number' || t === 'boolean') {
    if (typeof value !== t) errors.push(`${path}: expected a ${t}, got ${JSON.stringify(value)}`);
    return;
  }
  if (t === 'string | number' || scalarClasses.has(t)) {
    if (typeof value !== 'string' && typeof value !== 'number') {
      errors.push(`${path}: expected a string or number, got ${JSON.stringify(value)}`);
    }
    return;
  }
  const props = interfaces.get(t);
  if (!props) return errors.push(`${path}: the checker does not know type ${t}`);
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return errors.push(`${path}: expected an object (${t}), got ${JSON.stringify(value)}`);
  }
  for (const [k, v] of Object.entries(value)) {
    const p = props.get(k);
    if (!p) errors.push(`${path}.${k}: unknown field (not in ${t})`);
    else if (v !== null) check(v, p.type, `${path}.${k}`, errors);
  }
  for (const [k, p] of props) {
    if (!p.optional && !(k in value)) errors.push(`${path}.${k}: required field missing (${t})`);
  }
}

const objects = JSON.parse(fs.readFileSync(objectsFile, 'utf8')).filter((o) => o);
let failed = 0;
for (const o of objects) {
  const name = `${o.kind}/${o.metadata?.name}`;
  const props = kinds.get(`${o.apiVersion} ${o.kind}`);
  if (!props) {
    console.log(`SKIP ${name}: ${o.apiVersion} is not a Kubernetes 1.31 API (custom resource)`);
    continue;
  }
  const errors = [];
  const {apiVersion, kind, ...rest} = o;
  check(rest, props, name, errors);
  if (errors.length) {
    failed++;
    for (const e of errors) console.log(`FAIL ${e}`);
  } else {
    console.log(`PASS ${name} (${apiVersion})`);
  }
}
console.log(`${objects.length} objects, ${failed} invalid, ${interfaces.size} definitions, ${kinds.size} kinds known`);
process.exit(failed || objects.length === 0 ? 1 : 0);
