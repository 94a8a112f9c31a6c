// TlsCertificate: obtains the registry's certificate and puts nginx in front of it, in order:
//   1. HTTP server (ACME webroot for any name): staged, `nginx -t`, installed, reloaded;
//   2. `certbot certonly --webroot` in the certbot container (after 1);
//   3. HTTPS server and port 80's redirect to it: staged, `nginx -t`, installed, reloaded (after 2).
// Renewals are the certbot container's job; this component only bootstraps.
import * as pulumi from "@pulumi/pulumi";
import { ACME_ROOT_FILE, renderCertonly, renderExpiryProbe } from "../configs/certbot";
import { renderConfigInstall } from "../configs/install";
import { NGINX_INCLUDE_DIRS, renderHttpServer, renderHttpsRedirect, renderHttpsServer, renderMainConf } from "../configs/nginx";
import { Settings } from "../configs/settings";
import { containerScript } from "./dockerCommand";

export interface TlsCertificateArgs {
    settings: Settings;
    /** Name of the running nginx container. */
    nginxContainer: pulumi.Input<string>;
    /** Name of the running certbot container. */
    certbotContainer: pulumi.Input<string>;
}

export class TlsCertificate extends pulumi.ComponentResource {
    /** The certificate's expiry (ISO 8601, UTC) as of the last issuance by this program. */
    public readonly expiry: pulumi.Output<string>;
    /** The issuing CA's root certificate (PEM) when it is not publicly trusted (Pebble). */
    public readonly caRoot: pulumi.Output<string | undefined>;

    constructor(name: string, args: TlsCertificateArgs, opts: pulumi.ComponentResourceOptions = {}) {
        super("registry:index:TlsCertificate", name, {}, opts);
        const s = args.settings;

        const httpConfig = containerScript(
            `${name}-http-config`,
            {
                dockerHost: s.dockerHost,
                container: args.nginxContainer,
                script: renderConfigInstall("HTTP server", [
                    { path: "nginx.conf", content: renderMainConf(s) },
                    { path: `${NGINX_INCLUDE_DIRS.servers}/00-http.conf`, content: renderHttpServer() },
                ]),
            },
            { parent: this },
        );

        const certonly = containerScript(
            `${name}-certonly`,
            {
                dockerHost: s.dockerHost,
                container: args.certbotContainer,
                script: renderCertonly(s),
                triggers: [s.domain, s.acme.server, s.acme.keyType, s.acme.email ?? ""],
            },
            { parent: this, dependsOn: [httpConfig] },
        );

        containerScript(
            `${name}-https-config`,
            {
                dockerHost: s.dockerHost,
                container: args.nginxContainer,
                // The HTTPS server and port 80's redirect to it: one validated change, one reload.
                script: renderConfigInstall("HTTPS server", [
                    { path: `${NGINX_INCLUDE_DIRS.servers}/10-https.conf`, content: renderHttpsServer(s) },
                    { path: `${NGINX_INCLUDE_DIRS.redirect}/https.conf`, content: renderHttpsRedirect(s) },
                ]),
            },
            { parent: this, dependsOn: [certonly] },
        );

        // Read back after every issuance by this program (certonly's id or output changes).
        this.expiry = containerScript(
            `${name}-expiry`,
            {
                dockerHost: s.dockerHost,
                container: args.certbotContainer,
                script: renderExpiryProbe(),
                triggers: [certonly.id, certonly.stdout],
            },
            { parent: this, dependsOn: [certonly] },
        ).stdout.apply((out) => out.trim());

        // Pebble keeps its root in memory (saved by the deploy hook); a custom CA's root is config.
        this.caRoot = s.acme.caCertificate
            ? pulumi.output(s.acme.caCertificate)
            : s.acme.kind === "pebble"
            ? containerScript(
                  `${name}-ca-root`,
                  {
                      dockerHost: s.dockerHost,
                      container: args.certbotContainer,
                      script: `cat ${ACME_ROOT_FILE}\n`,
                      triggers: [certonly.id, certonly.stdout],
                  },
                  { parent: this, dependsOn: [certonly] },
              ).stdout.apply((pem) => `${pem.trim()}\n`)
            : pulumi.output(undefined);

        this.registerOutputs({ expiry: this.expiry, caRoot: this.caRoot });
    }
}
