// Writes an OCI image layout with random, incompressible layers, for pushing with skopeo.
// Layers are gzip streams at level 0 (stored): a valid compressed layer that costs no CPU to
// make or to push, so the benchmark measures the path to the registry, not a compressor.
import { createHash, randomFillSync } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { Readable, Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import { createGzip } from "node:zlib";
import * as tar from "tar-stream";

/** A tar stream holding one file, `payload.bin`, of `bytes` random bytes (tar-stream writes the format). */
function tarOfRandomFile(bytes: number): Readable {
    const pack = tar.pack();
    const entry = pack.entry({ name: "payload.bin", size: bytes, mode: 0o644 }, () => pack.finalize());
    const chunk = Buffer.alloc(4 * 1024 * 1024);
    let left = bytes;
    const write = () => {
        while (left > 0) {
            const n = Math.min(left, chunk.length);
            randomFillSync(chunk, 0, n);
            left -= n;
            if (!entry.write(Buffer.from(chunk.subarray(0, n)))) {
                entry.once("drain", write);
                return;
            }
        }
        entry.end(() => undefined);
    };
    write();
    return Readable.from(pack);
}

function hashing(hash: ReturnType<typeof createHash>): Transform {
    return new Transform({
        transform(chunk, _enc, done) {
            hash.update(chunk);
            done(null, chunk);
        },
    });
}

interface Descriptor {
    mediaType: string;
    digest: string;
    size: number;
}

function writeBlob(dir: string, content: string): Descriptor & { json: string } {
    const digest = createHash("sha256").update(content).digest("hex");
    fs.writeFileSync(path.join(dir, "blobs", "sha256", digest), content);
    return { mediaType: "", digest: `sha256:${digest}`, size: Buffer.byteLength(content), json: content };
}

/** An OCI layout at `dir` holding one image `tag` with layers of the given sizes (bytes). */
export async function makeOciImage(dir: string, tag: string, layerSizes: number[]): Promise<void> {
    fs.mkdirSync(path.join(dir, "blobs", "sha256"), { recursive: true });
    fs.writeFileSync(path.join(dir, "oci-layout"), JSON.stringify({ imageLayoutVersion: "1.0.0" }));
    const layers: Descriptor[] = [];
    const diffIds: string[] = [];
    for (const size of layerSizes) {
        const tmp = path.join(dir, "blobs", "layer.tmp");
        const diff = createHash("sha256");
        const digest = createHash("sha256");
        await pipeline(tarOfRandomFile(size), hashing(diff), createGzip({ level: 0 }), hashing(digest), fs.createWriteStream(tmp));
        const hex = digest.digest("hex");
        fs.renameSync(tmp, path.join(dir, "blobs", "sha256", hex));
        layers.push({
            mediaType: "application/vnd.oci.image.layer.v1.tar+gzip",
            digest: `sha256:${hex}`,
            size: fs.statSync(path.join(dir, "blobs", "sha256", hex)).size,
        });
        diffIds.push(`sha256:${diff.digest("hex")}`);
    }
    const config = writeBlob(
        dir,
        JSON.stringify({ architecture: "amd64", os: "linux", config: {}, rootfs: { type: "layers", diff_ids: diffIds } }),
    );
    const manifest = writeBlob(
        dir,
        JSON.stringify({
            schemaVersion: 2,
            mediaType: "application/vnd.oci.image.manifest.v1+json",
            config: { mediaType: "application/vnd.oci.image.config.v1+json", digest: config.digest, size: config.size },
            layers,
        }),
    );
    const index = {
        schemaVersion: 2,
        manifests: [
            {
                mediaType: "application/vnd.oci.image.manifest.v1+json",
                digest: manifest.digest,
                size: manifest.size,
                annotations: { "org.opencontainers.image.ref.name": tag },
            },
        ],
    };
    fs.writeFileSync(path.join(dir, "index.json"), JSON.stringify(index));
}
