"""Write a one-layer OCI image archive that `ctr images import` reads.

usage: ociimage.py --out FILE --name REF [--rootfs DIR] [--add SRC:DST[:MODE]]...
                   [--entrypoint JSON] [--cmd JSON] [--env K=V]... [--user U] [--workdir D]

The layer is written with tarfile (GNU tar's --delete leaves layers containerd cannot read),
hard links kept as links, uncompressed (import costs CPU otherwise, the archive never travels).
"""
import argparse
import hashlib
import io
import json
import os
import tarfile
import tempfile


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest(), os.path.getsize(path)


def add_dirs(tar, path, seen):
    """Parent directories of an added file, once each (root-owned, 0755)."""
    parts = path.strip("/").split("/")[:-1]
    for i in range(1, len(parts) + 1):
        d = "/".join(parts[:i])
        if d in seen:
            continue
        seen.add(d)
        info = tarfile.TarInfo(d)
        info.type = tarfile.DIRTYPE
        info.mode = 0o755
        tar.addfile(info)


def write_layer(path, rootfs, adds):
    seen = set()
    with tarfile.open(path, "w", format=tarfile.PAX_FORMAT) as tar:
        if rootfs:
            for name in sorted(os.listdir(rootfs)):
                tar.add(os.path.join(rootfs, name), arcname=name, recursive=True)
                seen.add(name)
        for spec in adds:
            parts = spec.split(":")
            src, dst = parts[0], parts[1].lstrip("/")
            mode = int(parts[2], 8) if len(parts) > 2 else None
            add_dirs(tar, dst, seen)
            info = tar.gettarinfo(src, arcname=dst)
            info.uid = info.gid = 0
            info.uname = info.gname = "root"
            if mode is not None:
                info.mode = mode
            with open(src, "rb") as f:
                tar.addfile(info, f)


def blob(blobs, data):
    digest = hashlib.sha256(data).hexdigest()
    with open(os.path.join(blobs, digest), "wb") as f:
        f.write(data)
    return digest, len(data)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--name", required=True)
    ap.add_argument("--rootfs")
    ap.add_argument("--add", action="append", default=[])
    ap.add_argument("--entrypoint")
    ap.add_argument("--cmd")
    ap.add_argument("--env", action="append", default=[])
    ap.add_argument("--user")
    ap.add_argument("--workdir")
    args = ap.parse_args()

    work = tempfile.mkdtemp(prefix="ociimage-", dir=os.path.dirname(os.path.abspath(args.out)))
    blobs = os.path.join(work, "blobs", "sha256")
    os.makedirs(blobs)
    layer_tmp = os.path.join(work, "layer.tar")
    write_layer(layer_tmp, args.rootfs, args.add)
    layer_digest, layer_size = sha256_file(layer_tmp)
    os.rename(layer_tmp, os.path.join(blobs, layer_digest))

    config = {"Env": args.env or ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]}
    if args.entrypoint:
        config["Entrypoint"] = json.loads(args.entrypoint)
    if args.cmd:
        config["Cmd"] = json.loads(args.cmd)
    if args.user:
        config["User"] = args.user
    if args.workdir:
        config["WorkingDir"] = args.workdir
    image_config = {
        "architecture": "amd64", "os": "linux", "config": config,
        "rootfs": {"type": "layers", "diff_ids": ["sha256:" + layer_digest]},
        "history": [{"created_by": "lab/node/ociimage.py " + args.name}],
    }
    cfg_digest, cfg_size = blob(blobs, json.dumps(image_config, sort_keys=True).encode())
    manifest = {
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": "sha256:" + cfg_digest, "size": cfg_size},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar",
                    "digest": "sha256:" + layer_digest, "size": layer_size}],
    }
    man_digest, man_size = blob(blobs, json.dumps(manifest, sort_keys=True).encode())
    index = {
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json",
                       "digest": "sha256:" + man_digest, "size": man_size,
                       "platform": {"architecture": "amd64", "os": "linux"},
                       "annotations": {"io.containerd.image.name": args.name,
                                       "org.opencontainers.image.ref.name": args.name.rsplit(":", 1)[-1]}}],
    }
    with open(os.path.join(work, "index.json"), "w") as f:
        json.dump(index, f)
    with open(os.path.join(work, "oci-layout"), "w") as f:
        json.dump({"imageLayoutVersion": "1.0.0"}, f)

    tmp_out = args.out + ".tmp"
    with tarfile.open(tmp_out, "w") as tar:
        for name in ("oci-layout", "index.json", "blobs"):
            tar.add(os.path.join(work, name), arcname=name)
    os.rename(tmp_out, args.out)
    for root, dirs, files in os.walk(work, topdown=False):
        for n in files:
            os.unlink(os.path.join(root, n))
        for n in dirs:
            os.rmdir(os.path.join(root, n))
    os.rmdir(work)
    print(json.dumps({"name": args.name, "manifest": "sha256:" + man_digest, "layer_bytes": layer_size}))


if __name__ == "__main__":
    main()
