#!/usr/bin/env python3
"""Writes the seed corpus of fuzz_hsakmt_ccmd: one small file per command shape.

Usage: tests/fuzz/make-corpus.py [OUTPUT_DIR]   (default: tests/fuzz/corpus)

Each file is the harness's 4-byte prefix (setup flags, slot-length mode, blob id to
claim, what happens to the claimed blob; see fuzz_hsakmt_ccmd.c) followed by a command stream laid out as the
guest's libhsakmt sends it (wire-protocol.md §1.3, §2.0), with valid arguments for
the KFD emulator's default topology (node 0 the CPU, node 1 the GPU). Regression
seeds for findings live beside them as regress-*; this script leaves those alone.
"""
import os
import struct
import sys

# include/virtkfd/hsakmt_proto.h
NOP, QUERY_INFO, EVENT, MEMORY, QUEUE, GL_INTER = 1, 2, 3, 4, 5, 6
REQ_SIZE = {NOP: 16, QUERY_INFO: 128, EVENT: 104, MEMORY: 312, QUEUE: 136, GL_INTER: 48}
RSP_SIZE = {QUERY_INFO: 424, EVENT: 80, MEMORY: 320, QUEUE: 168, GL_INTER: 40}
TYPE_OFFSET = {QUERY_INFO: 48, EVENT: 80, MEMORY: 304, QUEUE: 124, GL_INTER: 40}

# the harness's prefix
USERPTR, SPLIT, RDONLY, DETACH_IOV, CTX_FIRST, PREMAP, ALONE, SECOND = (
    1 << i for i in range(8))
SLOT_GUEST, SLOT_VARIANT_N, SLOT_TINY, SLOT_NONE, SLOT_EXTRA = 0, 1, 2, 3, 4
# prefix[1] bit 3: the harness's event, AQL queue and scratch (fuzz_hsakmt_compute.h)
COMPUTE = 8
EVENT_RES, RING_RES, AMD_QUEUE_RES, QUEUE_RES, DOORBELL_RES, SCRATCH_RES = 5, 6, 7, 8, 9, 10
KEEP_MAPPED, DETACH, FOREIGN = 1 << 0, 1 << 1, 1 << 2
USERPTR_RES, USERPTR2_RES = 2, 4
USERPTR_SIZE = 4 * 4096


def token(offset=0):
    """An address the harness replaces with the userptr's handle + offset (PREMAP)."""
    return (0xFEEDF00D << 32) | offset


def event_token():
    """The harness's event token (COMPUTE)."""
    return 0xFEEDF00E << 32


def ring(offset=0):
    """The harness's ring VA + offset (COMPUTE)."""
    return (0xFEEDF00F << 32) | offset


def amd_queue(offset=0):
    """The harness's amd_queue_t VA + offset (COMPUTE)."""
    return (0xFEEDF010 << 32) | offset


def scratch(offset=0):
    """The harness's scratch VA + offset (COMPUTE)."""
    return (0xFEEDF011 << 32) | offset


CPU_NODE, GPU_NODE = 0, 1

# HsaMemFlags (§3.8)
NON_PAGED, READ_ONLY, HOST_ACCESS, COARSE_GRAIN = 1 << 0, 1 << 3, 1 << 6, 1 << 13


class Stream:
    """Requests with the guest's seqnos and response-slot allocation."""

    def __init__(self):
        self.data = b""
        self.seqno = 0
        self.next_rsp_off = 0

    def add(self, cmd, fields=(), type_=None, length=None, rsp_len=None, payload=b"",
            rsp_off=None):
        size = REQ_SIZE[cmd]
        body = bytearray(max(size, size + len(payload)))
        for off, fmt, value in fields:
            struct.pack_into("<" + fmt, body, off, value)
        if type_ is not None:
            struct.pack_into("<I", body, TYPE_OFFSET[cmd], type_)
        body[size:size + len(payload)] = payload
        length = len(body) if length is None else length
        self.seqno += 1
        if rsp_off is None:
            rsp_off = 0
            if cmd != NOP:
                slot = ((rsp_len or RSP_SIZE[cmd]) + 7) & ~7
                rsp_off = self.next_rsp_off
                self.next_rsp_off += slot
        struct.pack_into("<IIII", body, 0, cmd, length, self.seqno, rsp_off)
        self.data += bytes(body[:length])
        return self

    def raw(self, data):
        self.data += data
        return self


def seed(flags=0, slot_mode=SLOT_GUEST, claim=0, life=0):
    return struct.pack("<BBBB", flags, slot_mode, claim, life)


def query(s, type_, fields=(), **kw):
    return s.add(QUERY_INFO, fields, type_=type_, **kw)


def memory(s, type_, fields=(), res_id=0, blob_id=0, **kw):
    fields = list(fields) + [(296, "Q", blob_id), (308, "I", res_id)]
    return s.add(MEMORY, fields, type_=type_, **kw)


def nodes(*ids):
    data = struct.pack("<%dI" % len(ids), *ids)
    return data + b"\0" * (-len(data) % 8)


def corpus():
    files = {}

    def add(name, prefix, stream):
        files[name] = prefix + stream.data

    # NOP, alone and between two requests
    add("nop", seed(), Stream().add(NOP))

    # QUERY_INFO: every sub-type with the arguments a guest sends
    query_args = {
        "gpu-info": (0, []),
        "open-kfd": (1, [(56, "Q", 0x7F0000001000)]),
        "get-ver": (2, []),
        "rel-sys-prop": (3, []),
        "get-sys-prop": (4, []),
        "get-node-prop": (5, [(56, "I", GPU_NODE)]),
        "get-xnack-mode": (6, []),
        "run-time-enable": (7, [(59, "B", 1)]),
        "run-time-disable": (8, []),
        "get-nod-mem-prop": (9, [(56, "I", GPU_NODE), (60, "I", 1)]),
        "get-nod-cache-prop": (10, [(56, "I", CPU_NODE), (60, "I", 0), (64, "I", 1)]),
        "get-nod-io-link-prop": (11, [(56, "I", GPU_NODE), (60, "I", 1)]),
        "get-clock-counters": (12, [(56, "I", GPU_NODE)]),
        "pointer-info": (13, [(56, "Q", 0x100000000000)]),
        "tile-config": (14, [(56, "Q", 0x7F0000002000), (64, "Q", 0x7F0000003000),
                             (72, "I", 32), (76, "I", 16), (120, "I", GPU_NODE)]),
        "nano-time": (15, []),
        "get-runtime-caps": (16, []),
        "amdgpu-device-handle": (17, [(56, "I", GPU_NODE)]),
        "set-xnack-mode": (19, [(56, "i", 1)]),
        "spm-acquire": (20, [(56, "I", GPU_NODE)]),
        "spm-release": (21, [(56, "I", GPU_NODE)]),
        "spm-set-dst-buffer": (22, [(56, "I", GPU_NODE), (60, "I", 4096), (64, "I", 10),
                                    (68, "I", 0), (72, "Q", 0x7F0000004000)]),
    }
    rsp_extra = {9: 32, 10: 1056, 11: 52, 14: 4 * 48}
    for name, (type_, fields) in query_args.items():
        rsp_len = 424 + rsp_extra.get(type_, 0)
        if type_ == 13:
            rsp_len = 440
        add("query-" + name, seed(), query(Stream(), type_, fields, rsp_len=rsp_len))
    # DRM_CMD_WRITE_READ carries `size` bytes after the request
    add("query-drm-cmd-write-read", seed(),
        query(Stream(), 18, [(56, "Q", 3), (64, "Q", 0x05), (72, "Q", 8)],
              payload=b"\x11" * 8, rsp_len=424 + 8))
    # a variant-N guest: 1060-byte cache records (slot 424 + 1060 rounded to 8)
    add("query-get-nod-cache-prop-variant-n", seed(slot_mode=SLOT_VARIANT_N),
        query(Stream(), 10, [(56, "I", CPU_NODE), (64, "I", 1)], rsp_len=1488))
    add("query-set-xnack-mode-alone", seed(ALONE), query(Stream(), 19, [(56, "i", 0)]))
    # slot lengths the host must honour: header only, none at all
    add("query-get-node-prop-slot-8", seed(slot_mode=SLOT_TINY),
        query(Stream(), 5, [(56, "I", GPU_NODE)]))
    add("query-get-node-prop-slot-0", seed(slot_mode=SLOT_NONE),
        query(Stream(), 5, [(56, "I", GPU_NODE)]))
    # a slot larger than any record layout (the cache query must refuse to guess)
    add("query-get-nod-cache-prop-slot-extra", seed(slot_mode=SLOT_EXTRA),
        query(Stream(), 10, [(56, "I", CPU_NODE), (64, "I", 1)], rsp_len=1480 + 65536))

    # EVENT: every sub-type
    event_args = {
        "create": (0, [(16, "I", 0), (20, "I", GPU_NODE), (40, "B", 1), (88, "Q", 2)]),
        "destroy": (1, [(16, "Q", 1), (96, "I", 3)]),
        "set": (2, [(16, "Q", 1), (96, "I", 3)]),
        "reset": (3, [(16, "Q", 1), (96, "I", 3)]),
        "query-state": (4, [(16, "Q", 1), (96, "I", 3)]),
        "wait-on-multi-events": (5, []),
        "set-trap": (6, [(16, "Q", 0x7F0000010000), (24, "Q", 4096),
                         (32, "Q", 0x7F0000020000), (40, "Q", 4096),
                         (48, "I", GPU_NODE)]),
    }
    for name, (type_, fields) in event_args.items():
        add("event-" + name, seed(), Stream().add(EVENT, fields, type_=type_))

    # MEMORY: KFD allocations (claimed as blob 2 by the harness), then the userptr path
    def open_kfd():
        return query(Stream(), 1, [(56, "Q", 0x7F0000001000)])

    add("memory-alloc-system", seed(claim=2),
        memory(open_kfd(), 0, [(16, "I", CPU_NODE), (20, "I", HOST_ACCESS | COARSE_GRAIN),
                               (24, "Q", 0x10000)], blob_id=2))
    add("memory-alloc-vram", seed(claim=2),
        memory(open_kfd(), 0, [(16, "I", GPU_NODE), (20, "I", NON_PAGED | HOST_ACCESS),
                               (24, "Q", 2 << 20)], blob_id=2))
    # the lifetime rule: detach and context destruction while the VMM maps the blob;
    # the third submit allocates again, where the kept memory must not be handed out
    for life_name, flags, life in (
            ("detach-mapped", 0, KEEP_MAPPED | DETACH),
            ("foreign-detach", 0, KEEP_MAPPED | FOREIGN),
            ("detach-then-destroy", CTX_FIRST, KEEP_MAPPED | DETACH),
            ("destroy-mapped", CTX_FIRST, KEEP_MAPPED),
            ("detach-unmapped", 0, DETACH | FOREIGN)):
        stream = open_kfd()
        for i, size in enumerate((2 << 20, 0x10000)):
            memory(stream, 0, [(16, "I", GPU_NODE if i == 0 else CPU_NODE),
                               (20, "I", (NON_PAGED | HOST_ACCESS) if i == 0
                                else (HOST_ACCESS | COARSE_GRAIN)),
                               (24, "Q", size)], blob_id=2 + i)
        add("lifetime-" + life_name, seed(flags, claim=2, life=life), stream)
    add("memory-avail-mem", seed(), memory(Stream(), 4, [(16, "I", GPU_NODE)]))
    add("memory-map-userptr", seed(USERPTR),
        memory(Stream(), 8, res_id=USERPTR_RES))
    add("memory-map-userptr-split", seed(USERPTR | SPLIT),
        memory(Stream(), 8, res_id=USERPTR_RES))
    add("memory-reg-mem-with-flag", seed(USERPTR | PREMAP),
        memory(Stream(), 6, [(16, "Q", token()), (24, "Q", USERPTR_SIZE)],
               res_id=USERPTR_RES))
    add("memory-reg-mem-with-flag-rdonly", seed(USERPTR | RDONLY | PREMAP),
        memory(Stream(), 6, [(16, "Q", token()), (24, "Q", USERPTR_SIZE),
                             (32, "I", READ_ONLY)], res_id=USERPTR_RES))
    add("memory-map-to-gpu-nodes", seed(USERPTR | PREMAP),
        memory(Stream(), 1, [(16, "Q", token()), (24, "Q", USERPTR_SIZE),
                             (48, "Q", 1)], res_id=USERPTR_RES,
               payload=nodes(GPU_NODE)))
    add("memory-map-mem-to-gpu", seed(USERPTR | PREMAP),
        memory(Stream(), 5, [(16, "Q", token()), (24, "Q", USERPTR_SIZE)]))
    add("memory-unmap-to-gpu", seed(USERPTR | PREMAP),
        memory(Stream(), 3, [(16, "Q", token())]))
    add("memory-dereg-mem", seed(USERPTR | PREMAP),
        memory(Stream(), 7, [(16, "Q", token())]))
    add("memory-free", seed(), memory(Stream(), 2, [(16, "Q", 0x100000000000),
                                                    (24, "Q", 4096)]))
    add("memory-set-mem-policy", seed(ALONE),
        memory(Stream(), 16, [(16, "I", GPU_NODE), (20, "I", 0), (24, "I", 1)]))
    add("memory-svm-get-attr", seed(),
        memory(Stream(), 17, [(16, "Q", 0x7F0000000000), (24, "Q", 4096), (32, "I", 2)],
               payload=struct.pack("<IIII", 0, 0, 1, 0), rsp_len=320 + 16))
    add("memory-svm-set-attr", seed(),
        memory(Stream(), 18, [(16, "Q", 0x7F0000000000), (24, "Q", 4096), (32, "I", 1)],
               payload=struct.pack("<II", 0, 0)))
    add("memory-register-shared-handle", seed(),
        memory(Stream(), 15, [(16, "I", 1), (48, "Q", 1)], payload=nodes(GPU_NODE, 0)))
    add("memory-amdgpu-bo-set-metadata", seed(),
        memory(Stream(), 20, [(16, "Q", 1), (32, "I", 4)], payload=b"\0" * 280))
    for type_, name in [(9, "export-dmabuf"), (10, "amdgpu-import"),
                        (11, "amdgpu-export"), (12, "amdgpu-va-op"),
                        (13, "amdgpu-bo-free"), (14, "share-memory"),
                        (19, "amdgpu-bo-query-info")]:
        add("memory-" + name, seed(USERPTR | PREMAP),
            memory(Stream(), type_, [(16, "Q", token()), (24, "Q", 4096)]))

    # the whole userptr life, as ROCr drives it, in one submit; variants of the end
    def userptr_life(s, nodes_list=(GPU_NODE,)):
        memory(s, 8, res_id=USERPTR_RES)
        memory(s, 6, [(16, "Q", token()), (24, "Q", USERPTR_SIZE)], res_id=USERPTR_RES)
        memory(s, 1, [(16, "Q", token()), (24, "Q", USERPTR_SIZE),
                      (48, "Q", len(nodes_list))], res_id=USERPTR_RES,
               payload=nodes(*nodes_list))
        memory(s, 5, [(16, "Q", token(4096)), (24, "Q", 4096)])
        query(s, 13, [(56, "Q", token(8))], rsp_len=440)
        memory(s, 3, [(16, "Q", token())])
        return s

    add("userptr-life", seed(USERPTR | PREMAP), userptr_life(Stream()))
    add("userptr-life-split", seed(USERPTR | SPLIT | PREMAP), userptr_life(Stream()))
    add("userptr-life-rdonly", seed(USERPTR | RDONLY | PREMAP), userptr_life(Stream()))
    add("userptr-life-detach-iov", seed(USERPTR | SPLIT | PREMAP | DETACH_IOV),
        userptr_life(Stream()))
    add("userptr-life-ctx-first", seed(USERPTR | PREMAP | CTX_FIRST),
        userptr_life(Stream()))
    # two blobs over the same guest pages: the second MAP_USERPTR must be refused
    add("userptr-overlap", seed(USERPTR | SPLIT | PREMAP | SECOND),
        memory(Stream(), 8, res_id=USERPTR2_RES))
    add("userptr-overlap-reverse", seed(USERPTR | SECOND),
        memory(memory(Stream(), 8, res_id=USERPTR2_RES), 8, res_id=USERPTR_RES))

    # QUEUE: every sub-type
    queue_create = [(16, "I", GPU_NODE), (20, "I", 21), (24, "I", 100), (32, "q", 0),
                    (44, "I", 0xFFFFFFFF), (48, "Q", token()), (56, "Q", 4096),
                    (64, "Q", 0), (80, "Q", token(8192)), (88, "Q", token(8192 + 64)),
                    (96, "Q", 4), (104, "Q", 5), (112, "Q", 6), (128, "I", 0)]
    add("queue-create", seed(USERPTR | PREMAP),
        Stream().add(QUEUE, queue_create, type_=0))
    add("queue-destroy", seed(), Stream().add(QUEUE, [(16, "Q", 1)], type_=1))
    add("queue-update", seed(),
        Stream().add(QUEUE, [(16, "Q", 1), (24, "I", 50), (32, "q", 0),
                             (40, "Q", 0x7F0000001000), (48, "Q", 4096)], type_=2))
    add("queue-get-info", seed(), Stream().add(QUEUE, [(16, "Q", 1)], type_=3))
    # SET_CU_MASK with 32 mask bits and ALLOC_GWS with n = 1 end on len % 8 == 4:
    # accepted as the last request of a submit
    add("queue-set-cu-mask", seed(),
        Stream().add(QUEUE, [(16, "I", 32)], type_=4, payload=b"\xff" * 4))
    add("queue-alloc-gws", seed(),
        Stream().add(QUEUE, [(16, "I", 1)], type_=5, payload=struct.pack("<I", 0)))

    # the harness's compute objects, named as a guest names them (COMPUTE)
    def event_op(st, type_, res_id=EVENT_RES):
        return st.add(EVENT, [(16, "Q", event_token()), (96, "I", res_id)], type_=type_)

    def queue_op(st, type_, fields=(), **kw):
        return st.add(QUEUE, list(fields) + [(120, "I", QUEUE_RES)], type_=type_, **kw)

    aql_create = [(16, "I", GPU_NODE), (20, "I", 21), (24, "I", 100), (32, "q", 0),
                  (44, "I", 0xFFFFFFFF), (48, "Q", ring()), (56, "Q", 0x10000),
                  (64, "Q", event_token()), (80, "Q", amd_queue(56)),
                  (88, "Q", amd_queue(128)), (96, "Q", 20), (120, "I", AMD_QUEUE_RES),
                  (128, "I", RING_RES)]
    update = [(24, "I", 50), (32, "q", 2), (40, "Q", ring()), (48, "Q", 0x10000),
              (128, "I", RING_RES)]
    scratch_map = [(16, "Q", scratch(0x100000)), (24, "Q", 0x100000), (32, "B", 1)]
    trap = [(16, "Q", ring()), (24, "Q", 4096), (32, "Q", amd_queue()), (40, "Q", 4096),
            (48, "I", GPU_NODE)]
    for name, type_ in (("set", 2), ("reset", 3), ("query-state", 4), ("destroy", 1)):
        add("compute-event-" + name, seed(slot_mode=COMPUTE), event_op(Stream(), type_))
    add("compute-event-set-trap", seed(slot_mode=COMPUTE),
        Stream().add(EVENT, trap, type_=6))
    add("compute-queue-create", seed(slot_mode=COMPUTE, claim=20),
        Stream().add(QUEUE, aql_create, type_=0))
    add("compute-queue-create-doorbell", seed(slot_mode=COMPUTE),
        Stream().add(QUEUE, aql_create + [(112, "Q", 21)], type_=0))
    add("compute-queue-update", seed(slot_mode=COMPUTE), queue_op(Stream(), 2, update))
    add("compute-queue-get-info", seed(slot_mode=COMPUTE), queue_op(Stream(), 3))
    add("compute-queue-get-info-variant-n", seed(slot_mode=COMPUTE | SLOT_VARIANT_N),
        queue_op(Stream(), 3, rsp_len=176))
    add("compute-queue-set-cu-mask", seed(slot_mode=COMPUTE),
        queue_op(Stream(), 4, [(16, "I", 64)], payload=b"\xff" * 8))
    add("compute-queue-alloc-gws", seed(slot_mode=COMPUTE),
        queue_op(Stream(), 5, [(16, "I", 1)], payload=struct.pack("<I", 0)))
    add("compute-queue-destroy", seed(slot_mode=COMPUTE), queue_op(Stream(), 1))
    add("compute-scratch-alloc", seed(slot_mode=COMPUTE, claim=2),
        memory(Stream(), 0, [(16, "I", GPU_NODE), (20, "I", (1 << 9) | HOST_ACCESS),
                             (24, "Q", 0x100000)], blob_id=2))
    add("compute-scratch-map", seed(slot_mode=COMPUTE),
        memory(Stream(), 5, scratch_map, blob_id=30))
    add("compute-share-memory", seed(slot_mode=COMPUTE),
        memory(Stream(), 14, [(16, "Q", ring()), (24, "Q", 4096)], res_id=RING_RES))
    # the compute life in one submit, and with the context destroyed first
    for name, flags in (("compute-life", 0), ("compute-life-ctx-first", CTX_FIRST)):
        st = Stream()
        event_op(st, 4)
        event_op(st, 2)
        event_op(st, 4)
        event_op(st, 3)
        st.add(EVENT, trap, type_=6)
        queue_op(st, 2, update)
        queue_op(st, 3)
        memory(st, 5, scratch_map, blob_id=30)
        st.add(QUEUE, aql_create, type_=0)
        queue_op(st, 1)
        queue_op(st, 4, [(16, "I", 32)], payload=b"\x0f" * 4)
        add(name, seed(flags, slot_mode=COMPUTE), st)

    # GL_INTER: REG_GHD_TO_NODES with one node
    add("gl-inter-reg-ghd-to-nodes", seed(),
        Stream().add(GL_INTER, [(16, "Q", 1), (24, "Q", 1), (32, "I", 7)], type_=0,
                     payload=struct.pack("<II", GPU_NODE, 0), rsp_len=40))

    # concatenated: a guest's start-up queries, NOP among them, in one submit
    s = Stream()
    query(s, 2, [])
    query(s, 1, [(56, "Q", 0x7F0000001000)])
    query(s, 4, [])
    s.add(NOP)
    query(s, 5, [(56, "I", CPU_NODE)])
    query(s, 5, [(56, "I", GPU_NODE)])
    query(s, 9, [(56, "I", GPU_NODE), (60, "I", 1)], rsp_len=424 + 32)
    query(s, 16, [])
    memory(s, 4, [(16, "I", GPU_NODE)])
    add("concat-startup", seed(), s)
    # len % 8 == 4 on the last of several requests
    s = Stream()
    query(s, 15, [])
    s.add(QUEUE, [(16, "I", 32)], type_=4, payload=b"\x0f" * 4)
    add("concat-len-mod8-4-last", seed(), s)

    # framing the host must refuse (and still publish the seqno of)
    add("frame-len-short", seed(), Stream().add(QUERY_INFO, type_=15, length=8))
    add("frame-len-past-end", seed(), Stream().add(QUERY_INFO, type_=15, length=4096))
    add("frame-rsp-off-unaligned", seed(), Stream().add(QUERY_INFO, type_=15, rsp_off=4))
    add("frame-rsp-off-past-area", seed(),
        Stream().add(QUERY_INFO, type_=15, rsp_off=80 * 4096 - 16 - 8))
    add("frame-len-mod8-4-not-last", seed(),
        Stream().add(QUEUE, [(16, "I", 32)], type_=4, payload=b"\xff" * 4)
        .add(NOP))
    add("frame-trailing-bytes", seed(), Stream().add(NOP).raw(b"\x01\0\0\0\x10\0\0\0"))
    add("frame-unknown-cmd", seed(),
        Stream().raw(struct.pack("<IIII", 7, 16, 1, 0)).add(NOP))
    add("frame-cmd-zero", seed(), Stream().raw(struct.pack("<IIII", 0, 16, 1, 0)))
    add("frame-unknown-type", seed(), Stream().add(MEMORY, type_=21))
    return files


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "corpus")
    os.makedirs(out, exist_ok=True)
    files = corpus()
    for name in os.listdir(out):
        if not name.startswith("regress-") and name not in files:
            os.remove(os.path.join(out, name))
    for name, data in sorted(files.items()):
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)
    total = sum(len(d) for d in files.values())
    print(f"{len(files)} seeds, {total} bytes, in {out}")


if __name__ == "__main__":
    main()
