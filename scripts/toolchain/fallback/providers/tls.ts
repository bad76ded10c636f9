// Fallback `tls` provider: PrivateKey (RSA, ECDSA, ED25519) with node's crypto, SelfSignedCert with
// @peculiar/x509. A certificate inside its early-renewal window is replaced on the next `pulumi up`,
// as the official provider does.
import "reflect-metadata";
import * as crypto from "crypto";
import * as x509 from "@peculiar/x509";
import { Props, changedKeys, unwrap } from "./wire";

x509.cryptoProvider.set(crypto.webcrypto as unknown as Crypto);

const CURVES: Record<string, { node: string; ssh: string; web: string; hash: string }> = {
  P256: { node: "prime256v1", ssh: "nistp256", web: "P-256", hash: "SHA-256" },
  P384: { node: "secp384r1", ssh: "nistp384", web: "P-384", hash: "SHA-384" },
  P521: { node: "secp521r1", ssh: "nistp521", web: "P-521", hash: "SHA-512" },
};

const sshString = (b: Buffer | string) => {
  const buf = Buffer.isBuffer(b) ? b : Buffer.from(b);
  const len = Buffer.alloc(4);
  len.writeUInt32BE(buf.length);
  return Buffer.concat([len, buf]);
};
const mpint = (b64url: string) => {
  let b = Buffer.from(b64url, "base64url");
  if (b[0] & 0x80) b = Buffer.concat([Buffer.from([0]), b]);
  return sshString(b);
};

/** The public key in OpenSSH authorized_keys form. */
export function opensshPublicKey(key: crypto.KeyObject, curve?: string): string {
  const jwk = key.export({ format: "jwk" }) as any;
  let blob: Buffer;
  let type: string;
  if (jwk.kty === "OKP") {
    type = "ssh-ed25519";
    blob = Buffer.concat([sshString(type), sshString(Buffer.from(jwk.x, "base64url"))]);
  } else if (jwk.kty === "EC") {
    const c = CURVES[curve ?? "P256"];
    type = `ecdsa-sha2-${c.ssh}`;
    const q = Buffer.concat([Buffer.from([4]), Buffer.from(jwk.x, "base64url"), Buffer.from(jwk.y, "base64url")]);
    blob = Buffer.concat([sshString(type), sshString(c.ssh), sshString(q)]);
  } else {
    type = "ssh-rsa";
    blob = Buffer.concat([sshString(type), mpint(jwk.e), mpint(jwk.n)]);
  }
  return `${type} ${blob.toString("base64")}\n`;
}

function newKey(p: Props): Props {
  const algorithm = p.algorithm;
  let pair: crypto.KeyPairKeyObjectResult;
  let privateKeyPem: string;
  if (algorithm === "ED25519") {
    pair = crypto.generateKeyPairSync("ed25519");
    privateKeyPem = pair.privateKey.export({ format: "pem", type: "pkcs8" }).toString();
  } else if (algorithm === "ECDSA") {
    const c = CURVES[p.ecdsaCurve ?? "P224"];
    if (!c) throw new Error(`ecdsaCurve ${p.ecdsaCurve} is not supported here (use P256, P384 or P521)`);
    pair = crypto.generateKeyPairSync("ec", { namedCurve: c.node });
    privateKeyPem = pair.privateKey.export({ format: "pem", type: "sec1" }).toString();
  } else if (algorithm === "RSA") {
    pair = crypto.generateKeyPairSync("rsa", { modulusLength: p.rsaBits ?? 2048 });
    privateKeyPem = pair.privateKey.export({ format: "pem", type: "pkcs1" }).toString();
  } else {
    throw new Error(`algorithm must be RSA, ECDSA or ED25519, got ${algorithm}`);
  }
  const spki = pair.publicKey.export({ format: "der", type: "spki" });
  return {
    privateKeyPem,
    privateKeyPemPkcs8: pair.privateKey.export({ format: "pem", type: "pkcs8" }).toString(),
    privateKeyOpenssh: "",
    publicKeyPem: pair.publicKey.export({ format: "pem", type: "spki" }).toString(),
    publicKeyOpenssh: opensshPublicKey(pair.publicKey, p.ecdsaCurve),
    publicKeyFingerprintSha256: `SHA256:${crypto.createHash("sha256").update(Buffer.from(opensshPublicKey(pair.publicKey, p.ecdsaCurve).split(" ")[1], "base64")).digest("base64").replace(/=+$/, "")}`,
    publicKeyFingerprintMd5: crypto.createHash("md5").update(spki).digest("hex").match(/../g)!.join(":"),
  };
}

const USAGES: Record<string, number> = {
  digital_signature: x509.KeyUsageFlags.digitalSignature,
  content_commitment: x509.KeyUsageFlags.nonRepudiation,
  key_encipherment: x509.KeyUsageFlags.keyEncipherment,
  data_encipherment: x509.KeyUsageFlags.dataEncipherment,
  key_agreement: x509.KeyUsageFlags.keyAgreement,
  cert_signing: x509.KeyUsageFlags.keyCertSign,
  crl_signing: x509.KeyUsageFlags.cRLSign,
};
const EXT_USAGES: Record<string, string> = {
  server_auth: x509.ExtendedKeyUsage.serverAuth,
  client_auth: x509.ExtendedKeyUsage.clientAuth,
  code_signing: x509.ExtendedKeyUsage.codeSigning,
};

async function newCert(p: Props): Promise<Props> {
  const key = crypto.createPrivateKey(p.privateKeyPem);
  const pub = crypto.createPublicKey(key);
  const type = key.asymmetricKeyType;
  const subtle = crypto.webcrypto.subtle;
  let alg: any;
  if (type === "ec") {
    const curve = Object.values(CURVES).find((c) => c.node === key.asymmetricKeyDetails?.namedCurve)!;
    alg = { name: "ECDSA", namedCurve: curve.web, hash: curve.hash };
  } else if (type === "ed25519") {
    alg = { name: "Ed25519" };
  } else {
    alg = { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" };
  }
  const keys = {
    privateKey: await subtle.importKey("pkcs8", key.export({ format: "der", type: "pkcs8" }), alg, false, ["sign"]),
    publicKey: await subtle.importKey("spki", pub.export({ format: "der", type: "spki" }), alg, true, ["verify"]),
  };
  const notBefore = new Date();
  const notAfter = new Date(notBefore.getTime() + p.validityPeriodHours * 3600 * 1000);
  const s = p.subject ?? {};
  const name: x509.JsonName = [];
  const attr = (k: string, v: unknown) => (typeof v === "string" && v ? name.push({ [k]: [v] }) : undefined);
  attr("CN", s.commonName);
  attr("O", s.organization);
  attr("OU", s.organizationalUnit);
  attr("L", s.locality);
  attr("ST", s.province);
  attr("C", s.country);
  const uses: string[] = p.allowedUses ?? [];
  const flags = uses.map((u) => USAGES[u] ?? 0).reduce((a, b) => a | b, 0);
  const ext = uses.map((u) => EXT_USAGES[u]).filter(Boolean);
  const sans = [...(p.dnsNames ?? []).map((v: string) => ({ type: "dns", value: v })), ...(p.ipAddresses ?? []).map((v: string) => ({ type: "ip", value: v }))];
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: crypto.randomBytes(16).toString("hex").replace(/^[89a-f]/, "1"),
    name,
    notBefore,
    notAfter,
    keys,
    signingAlgorithm: alg,
    extensions: [
      new x509.BasicConstraintsExtension(!!p.isCaCertificate, undefined, true),
      ...(flags ? [new x509.KeyUsagesExtension(flags, true)] : []),
      ...(ext.length ? [new x509.ExtendedKeyUsageExtension(ext as any, false)] : []),
      ...(sans.length ? [new x509.SubjectAlternativeNameExtension(sans as any, false)] : []),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return {
    certPem: cert.toString("pem") + "\n",
    validityStartTime: notBefore.toISOString().replace(/\.\d+Z$/, "Z"),
    validityEndTime: notAfter.toISOString().replace(/\.\d+Z$/, "Z"),
    readyForRenewal: false,
    keyAlgorithm: type === "ec" ? "ECDSA" : type === "ed25519" ? "ED25519" : "RSA",
  };
}

const KEY_INPUTS = ["algorithm", "ecdsaCurve", "rsaBits"];
const CERT_INPUTS = ["privateKeyPem", "subject", "dnsNames", "ipAddresses", "uris", "validityPeriodHours", "earlyRenewalHours", "allowedUses", "isCaCertificate", "setSubjectKeyId", "setAuthorityKeyId"];

/** True once `now` is inside the early-renewal window of a certificate ending at `end`. */
export function inRenewalWindow(end: string | undefined, earlyRenewalHours: number | undefined, now = Date.now()): boolean {
  if (!end) return false;
  return now >= Date.parse(end) - (earlyRenewalHours ?? 0) * 3600 * 1000;
}

export const tlsProvider = {
  async check(_urn: string, _olds: Props, news: Props) {
    return { inputs: news, failures: [] };
  },
  async diff(_id: string, urn: string, olds: Props, news: Props) {
    const isCert = urn.includes("tls:index/selfSignedCert:SelfSignedCert");
    const replaces = changedKeys(olds, news, isCert ? CERT_INPUTS : KEY_INPUTS);
    if (isCert && inRenewalWindow(unwrap(olds.validityEndTime), unwrap(news.earlyRenewalHours))) replaces.push("readyForRenewal");
    return { changes: replaces.length > 0, replaces };
  },
  async create(urn: string, inputs: Props) {
    const p = unwrap(inputs);
    const outs = urn.includes("tls:index/selfSignedCert:SelfSignedCert") ? await newCert(p) : newKey(p);
    return { id: crypto.randomBytes(8).toString("hex"), outs: { ...inputs, ...outs } };
  },
  async read(id: string, _urn: string, props: Props) {
    return { id, props };
  },
  async delete() {},
};
