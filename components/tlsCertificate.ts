// TlsCertificate: obtains the registry's certificate and puts nginx in front of it, in order:
//   1. HTTP server (ACME webroot for any name): staged, `nginx -t`, installed, reloaded;
//   2. `certbot certonly` in the certbot container (after 1): --webroot for HTTP-01, the DNS
//      plugin for DNS-01 (certbot keeps the authenticator, so renewals use the same);
//   3. HTTPS server and port 80's redirect to it: staged, `nginx -t`, installed, reloaded (after 2).
// Renewals are the certbot container's job; this component only bootstraps, and again whenever
// a container it writes into is new: what it installed lived in volumes that may be gone with
// it (a prune, a lost disk), so one `pulumi up --refresh` puts the service back.
import * as pulumi from "@pulumi/pulumi";
import { ACME_ROOT_FILE, LIVE_CERTIFICATE_DIR, renderCertonlyStep, renderExpiryProbe, requestExtras } from "../configs/certbot";
import { renderConfigInstall } from "../configs/install";
import {
    AUTH_MODULE_PATH,
    NGINX_INCLUDE_DIRS,
    renderHttpServer,
    renderHttpsRedirect,
    renderHttpsServer,
    renderMainConf,
    renderNginxAuthModule,
} from "../configs/nginx";
import { Settings } from "../settings/types";
import { containerScript } from "./containerScript";
import { DockerTarget } from "./dockerTarget";

export interface TlsCertificateArgs {
    settings: Settings;
    /** The Docker daemon of the host's containers. */
    docker: DockerTarget;
    /** Name of the running nginx container. */
    nginxContainer: pulumi.Input<string>;
    /** Its id: a new nginx container gets its configuration installed again (its config volume may be new). */
    nginxId: pulumi.Input<string>;
    /** Name of the running certbot container. */
    certbotContainer: pulumi.Input<string>;
    /**
     * Its id: a new certbot container runs certonly again, which keeps a valid certificate and
     * issues one when the certificates volume is new; with DNS-01 it also proves new credentials.
     */
    certbotId: pulumi.Input<string>;
}

export class TlsCertificate extends pulumi.ComponentResource {
    /** The certificate's expiry (ISO 8601, UTC) as of the last issuance by this program. */
    public readonly expiry: pulumi.Output<string>;
    /** The issuing CA's root certificate (PEM) when it is not publicly trusted (Pebble). */
    public readonly caRoot: pulumi.Output<string | undefined>;

    constructor(name: string, args: TlsCertificateArgs, opts: pulumi.ComponentResourceOptions = {}) {
        super("registry:index:TlsCertificate", name, {}, opts);
        const settings = args.settings;
        // Each step runs a script in a container of the stack, on its Docker host.
        const step = (
            suffix: string,
            container: pulumi.Input<string>,
            script: string,
            triggers?: pulumi.Input<unknown>[],
            after?: pulumi.Resource,
        ) =>
            containerScript(
                `${name}-${suffix}`,
                { docker: args.docker, container, script, triggers },
                { parent: this, dependsOn: after ? [after] : [] },
            );

        // 1. Port 80: ACME challenges for any name (the main config, and the authentication
        // module it loads, come with it).
        // Without the certificate (its volume lost) the HTTPS server cannot load: it is taken out
        // until step 3 installs it again.
        const httpsFiles = [`${NGINX_INCLUDE_DIRS.servers}/10-https.conf`, `${NGINX_INCLUDE_DIRS.redirect}/https.conf`];
        const httpConfig = step(
            "http-config",
            args.nginxContainer,
            renderConfigInstall(
                "HTTP server",
                [
                    { path: "nginx.conf", content: renderMainConf(settings) },
                    { path: AUTH_MODULE_PATH, content: renderNginxAuthModule(settings) },
                    { path: `${NGINX_INCLUDE_DIRS.servers}/00-http.conf`, content: renderHttpServer() },
                ],
                { needs: `${LIVE_CERTIFICATE_DIR}/fullchain.pem`, paths: httpsFiles },
            ),
            [args.nginxId],
        );
        // 2. The certificate; requested again when what it is requested for changes.
        const certonly = step(
            "certonly",
            args.certbotContainer,
            renderCertonlyStep(settings),
            [
                settings.domain,
                settings.acme.server,
                settings.acme.keyType,
                settings.acme.email ?? "",
                ...requestExtras(settings),
                args.certbotId,
            ],
            httpConfig,
        );
        // 3. The HTTPS server and port 80's redirect to it: one validated change, one reload;
        // again after every certonly run and in every new nginx container.
        const [httpsServer, redirect] = httpsFiles;
        step(
            "https-config",
            args.nginxContainer,
            renderConfigInstall("HTTPS server", [
                { path: httpsServer, content: renderHttpsServer(settings) },
                { path: redirect, content: renderHttpsRedirect(settings) },
            ]),
            [args.nginxId, certonly.id],
            certonly,
        );

        // Read back after every issuance by this program (certonly's id or output changes).
        const issued = [certonly.id, certonly.stdout];
        this.expiry = step("expiry", args.certbotContainer, renderExpiryProbe(), issued, certonly).stdout.apply((out) => out.trim());
        // Pebble keeps its root in memory (saved by the deploy hook); a custom CA's root is config.
        if (settings.acme.caCertificate) this.caRoot = pulumi.output(settings.acme.caCertificate);
        else if (settings.acme.kind === "pebble")
            this.caRoot = step("ca-root", args.certbotContainer, `cat ${ACME_ROOT_FILE}\n`, issued, certonly).stdout.apply(
                (pem) => `${pem.trim()}\n`,
            );
        else this.caRoot = pulumi.output(undefined);

        this.registerOutputs({ expiry: this.expiry, caRoot: this.caRoot });
    }
}
