// LocalAcmeServer: Pebble, Let's Encrypt's ACME test server, as the CA of a local stack.
// It validates HTTP-01 challenges against nginx on the stack's network, so no public
// domain or DNS is needed: a resolver beside it answers every name with nginx's address.
// Its listener CA lands in a volume the certbot container trusts.
import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import {
    PEBBLE_CERTS_DIR,
    PEBBLE_CONFIG_PATH,
    PEBBLE_RESOLVER_ALIAS,
    PEBBLE_RESOLVER_PATH,
    pebbleDnsServer,
    pebbleEnv,
    renderPebbleConfig,
    renderPebbleResolver,
} from "../configs/pebble";
import { PEBBLE_ALIAS } from "../settings/pebbleAddress";
import { Settings } from "../settings/types";

export interface LocalAcmeServerArgs {
    settings: Settings;
    network: pulumi.Input<string>;
    labels: docker.types.input.ContainerLabel[];
    /** HTTP-01: the name of nginx's container on the network, where the challenges are answered. */
    nginx: string;
    /** An image with python3 (certbot's), which runs the resolver. */
    resolverImage: pulumi.Input<string>;
}

export class LocalAcmeServer extends pulumi.ComponentResource {
    /** Volume holding Pebble's listener certificate and CA (`pebble.minica.pem`). */
    public readonly certsVolume: pulumi.Output<string>;
    /** Pebble's container. */
    public readonly container: docker.Container;
    /** Its containers: Pebble, and for HTTP-01 its resolver. */
    public readonly containers: docker.Container[];

    constructor(name: string, args: LocalAcmeServerArgs, opts: pulumi.ComponentResourceOptions & { provider: docker.Provider }) {
        super("registry:index:LocalAcmeServer", name, {}, opts);
        const settings = args.settings;
        const childOpts = { parent: this, provider: opts.provider };

        const image = new docker.RemoteImage(`${name}-image`, { name: settings.images.pebble, keepLocally: true }, childOpts);
        // An empty named volume is filled from the image on first mount: the listener certs.
        const certs = new docker.Volume(
            `${name}-certs`,
            { name: `${settings.namePrefix}-pebble-certs`, labels: args.labels },
            { ...childOpts, ignoreChanges: ["labels"] },
        );

        // HTTP-01: Pebble asks its resolver where a name is, and is always sent to nginx. The names
        // are in no container's settings (a network alias of nginx's would be: a new domain
        // would replace nginx, and with it the published ports, for a moment).
        const resolver =
            settings.acme.challenge.kind === "http"
                ? new docker.Container(
                      `${name}-resolver`,
                      {
                          name: `${settings.namePrefix}-${PEBBLE_RESOLVER_ALIAS}`,
                          image: args.resolverImage,
                          entrypoints: ["python3", "-u", PEBBLE_RESOLVER_PATH],
                          uploads: [{ file: PEBBLE_RESOLVER_PATH, content: renderPebbleResolver(args.nginx) }],
                          networksAdvanced: [{ name: args.network, aliases: [PEBBLE_RESOLVER_ALIAS] }],
                          restart: "unless-stopped",
                          labels: args.labels,
                      },
                      { ...childOpts, deleteBeforeReplace: true },
                  )
                : undefined;
        const dnsServer = pebbleDnsServer(settings);
        this.container = new docker.Container(
            `${name}-container`,
            {
                name: `${settings.namePrefix}-pebble`,
                image: image.imageId,
                // DNS-01: Pebble checks the TXT records with the server given (else its container's resolver).
                command: ["-config", PEBBLE_CONFIG_PATH, ...(dnsServer ? ["-dnsserver", dnsServer] : [])],
                envs: pebbleEnv(settings.acme.challenge.kind === "dns"),
                uploads: [{ file: PEBBLE_CONFIG_PATH, content: renderPebbleConfig(settings.pebbleCertificateDays) }],
                networksAdvanced: [{ name: args.network, aliases: [PEBBLE_ALIAS] }],
                volumes: [{ volumeName: certs.name, containerPath: PEBBLE_CERTS_DIR }],
                restart: "unless-stopped",
                labels: args.labels,
            },
            { ...childOpts, deleteBeforeReplace: true },
        );
        this.containers = [this.container, ...(resolver ? [resolver] : [])];
        this.certsVolume = certs.name;
        this.registerOutputs({ certsVolume: this.certsVolume });
    }
}
