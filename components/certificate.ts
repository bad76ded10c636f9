// The TLS certificate nginx serves: self-signed with subjectAltNames (renewed by `pulumi up` inside the
// renewal window) or brought by the user. The key is a Pulumi secret and is written 0600 via stdin.
import * as crypto from "crypto";
import * as pulumi from "@pulumi/pulumi";
import * as tls from "@pulumi/tls";
import { writeFromStdin } from "../lib/commands/files";
import { isIp } from "../lib/config";
import { TLS_FILES } from "../lib/layout";
import { Repair } from "../lib/drift";
import { HostContext, hostCommand } from "./context";

export interface CertificateArgs {
  /** Names the certificate covers: DNS names and IPs mixed; split here. */
  names: string[];
  provided?: { certPem: pulumi.Input<string>; keyPem: pulumi.Output<string> };
  /** The tls directory must exist first. */
  after: pulumi.Resource[];
}

export class Certificate extends pulumi.ComponentResource {
  readonly certPem: pulumi.Output<string>;
  readonly fingerprint: pulumi.Output<string>;
  readonly notAfter: pulumi.Output<string>;
  readonly files: pulumi.Resource[];

  constructor(name: string, ctx: HostContext, args: CertificateArgs, opts?: pulumi.ComponentResourceOptions) {
    super("flagun:site:Certificate", name, {}, opts);
    const t = ctx.site.tls;
    let keyPem: pulumi.Output<string>;
    if (args.provided) {
      this.certPem = pulumi.output(args.provided.certPem);
      keyPem = pulumi.secret(args.provided.keyPem);
    } else {
      const key = new tls.PrivateKey(`${ctx.host.name}-tls-key`, { algorithm: "ECDSA", ecdsaCurve: "P256" }, { parent: this });
      const cert = new tls.SelfSignedCert(
        `${ctx.host.name}-tls-cert`,
        {
          privateKeyPem: key.privateKeyPem,
          subject: { commonName: t.commonName, organization: t.organization },
          dnsNames: args.names.filter((n) => !isIp(n)),
          ipAddresses: args.names.filter(isIp),
          validityPeriodHours: t.validityDays * 24,
          earlyRenewalHours: t.renewBeforeDays * 24,
          allowedUses: ["digital_signature", "key_encipherment", "server_auth"],
        },
        { parent: this },
      );
      this.certPem = cert.certPem;
      keyPem = pulumi.secret(key.privateKeyPem);
    }
    const x509 = this.certPem.apply((pem) => new crypto.X509Certificate(pem));
    this.fingerprint = x509.apply((c) => c.fingerprint256);
    this.notAfter = x509.apply((c) => new Date(c.validTo).toISOString());
    const tlsDir = ctx.layout.tlsDir;
    this.files = [
      hostCommand(ctx, this, "tls-cert-file", { create: writeFromStdin(ctx.priv, ctx.layout.user, `${tlsDir}/${TLS_FILES.cert}`, "0644"), stdin: this.certPem, repairs: [Repair.TlsCert] }, { dependsOn: args.after }),
      hostCommand(ctx, this, "tls-key-file", { create: writeFromStdin(ctx.priv, ctx.layout.user, `${tlsDir}/${TLS_FILES.key}`, "0600"), stdin: keyPem, repairs: [Repair.TlsKey] }, { dependsOn: args.after }),
    ];
    this.registerOutputs({ fingerprint: this.fingerprint, notAfter: this.notAfter });
  }
}
