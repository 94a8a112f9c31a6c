// An address on this host that the tests own and that is not loopback: the gateway of a
// bridge network the bed creates. The Docker daemon treats 127.0.0.0/8 as an insecure
// registry and would accept any certificate there, so the bed publishes nginx on this
// address and resolves the registry's name to it: Docker clients then verify the certificate.
// Containers on any network reach it too (it is the host's), so the S3 test server listens
// on it. The address is read from the bridge interface itself, which holds on any engine
// (IPAM's Gateway field is empty for the default bridge on some).
import { docker, run } from "./proc";

export const BED_NETWORK = "registry-bed-host";
export const BED_BRIDGE = "regbed0";
let cached: string | undefined;

export async function bedHostAddress(): Promise<string> {
    if (cached) return cached;
    if ((await run("docker", ["network", "inspect", BED_NETWORK])).code !== 0) {
        const made = await run("docker", [
            "network",
            "create",
            "--driver",
            "bridge",
            "--label",
            "registry-bed=shared",
            "--opt",
            `com.docker.network.bridge.name=${BED_BRIDGE}`,
            BED_NETWORK,
        ]);
        // Another test file, running in parallel, may have made it first.
        if (made.code !== 0) await docker(["network", "inspect", BED_NETWORK]);
    }
    const ip = await run("ip", ["-4", "-o", "addr", "show", "dev", BED_BRIDGE]);
    // The network's own address (test/live/sourceAddresses.ts adds client addresses beside it).
    const address = [...ip.stdout.matchAll(/inet (\d+\.\d+\.\d+\.\d+)\/(\d+)/g)].find((m) => m[2] !== "32")?.[1];
    if (!address) throw new Error(`cannot read the address of ${BED_BRIDGE} (network ${BED_NETWORK}): ${ip.stdout}${ip.stderr}`);
    cached = address;
    return address;
}
