#!/usr/bin/env python3
"""Reads a TensorBoard event file independently of DeepSharp: checks the record framing (both masked CRC32Cs of
every record) and decodes every Event with protobuf message definitions declared here from TensorBoard's
event.proto / summary.proto field numbers (Debian's python3-protobuf; no TensorFlow, no TensorBoard).

Usage: /usr/bin/python3 scripts/read_tfevents.py FILE_OR_DIR [--expect TAG ...]
Prints one line per tag (points, first/last step, last value) and exits 1 when the file is malformed, does not
start with the brain.Event:2 version event, has steps going backwards within a scalar tag, or lacks an expected tag.
"""
import math
import os
import struct
import sys

from google.protobuf import descriptor_pb2, message_factory

F = descriptor_pb2.FieldDescriptorProto


def crc32c_table():
    table = []
    for n in range(256):
        c = n
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table.append(c)
    return table


TABLE = crc32c_table()


def masked_crc32c(data):
    c = 0xFFFFFFFF
    for b in data:
        c = TABLE[(c ^ b) & 0xFF] ^ (c >> 8)
    c ^= 0xFFFFFFFF
    return (((c >> 15) | (c << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def messages():
    """Event, Summary and the messages they hold, with the field numbers of TensorBoard's .proto files."""
    f = descriptor_pb2.FileDescriptorProto(name="tfevents_check.proto", package="check", syntax="proto3")

    def message(name, *fields):
        m = f.message_type.add(name=name)
        for number, field_name, kind, label, type_name in fields:
            fd = m.field.add(name=field_name, number=number, type=kind, label=label or F.LABEL_OPTIONAL)
            if type_name:
                fd.type_name = ".check." + type_name
        return m

    rep = F.LABEL_REPEATED
    message("Dim", (1, "size", F.TYPE_INT64, None, None), (2, "name", F.TYPE_STRING, None, None))
    message("TensorShape", (2, "dim", F.TYPE_MESSAGE, rep, "Dim"))
    message("Tensor", (1, "dtype", F.TYPE_INT32, None, None), (2, "tensor_shape", F.TYPE_MESSAGE, None, "TensorShape"),
            (8, "string_val", F.TYPE_BYTES, rep, None))
    message("Histogram", (1, "min", F.TYPE_DOUBLE, None, None), (2, "max", F.TYPE_DOUBLE, None, None),
            (3, "num", F.TYPE_DOUBLE, None, None), (4, "sum", F.TYPE_DOUBLE, None, None),
            (5, "sum_squares", F.TYPE_DOUBLE, None, None), (6, "bucket_limit", F.TYPE_DOUBLE, rep, None),
            (7, "bucket", F.TYPE_DOUBLE, rep, None))
    message("Image", (1, "height", F.TYPE_INT32, None, None), (2, "width", F.TYPE_INT32, None, None),
            (3, "colorspace", F.TYPE_INT32, None, None), (4, "encoded_image_string", F.TYPE_BYTES, None, None))
    message("PluginData", (1, "plugin_name", F.TYPE_STRING, None, None), (2, "content", F.TYPE_BYTES, None, None))
    message("Metadata", (1, "plugin_data", F.TYPE_MESSAGE, None, "PluginData"))
    message("Value", (1, "tag", F.TYPE_STRING, None, None), (2, "simple_value", F.TYPE_FLOAT, None, None),
            (4, "image", F.TYPE_MESSAGE, None, "Image"), (5, "histo", F.TYPE_MESSAGE, None, "Histogram"),
            (8, "tensor", F.TYPE_MESSAGE, None, "Tensor"), (9, "metadata", F.TYPE_MESSAGE, None, "Metadata"))
    message("Summary", (1, "value", F.TYPE_MESSAGE, rep, "Value"))
    message("Event", (1, "wall_time", F.TYPE_DOUBLE, None, None), (2, "step", F.TYPE_INT64, None, None),
            (3, "file_version", F.TYPE_STRING, None, None), (5, "summary", F.TYPE_MESSAGE, None, "Summary"))
    # proto3 singular scalars have no presence: mark the value fields optional (proto3 "optional") so HasField works
    value = next(m for m in f.message_type if m.name == "Value")
    simple = next(fd for fd in value.field if fd.name == "simple_value")
    simple.proto3_optional = True
    simple.oneof_index = len(value.oneof_decl)
    value.oneof_decl.add(name="_simple_value")
    return message_factory.GetMessages([f])["check.Event"]


def records(path):
    with open(path, "rb") as fh:
        data = fh.read()
    pos = 0
    while pos < len(data):
        if pos + 12 > len(data):
            raise ValueError(f"truncated record header at byte {pos}")
        header = data[pos:pos + 8]
        (length,) = struct.unpack("<Q", header)
        (length_crc,) = struct.unpack("<I", data[pos + 8:pos + 12])
        if masked_crc32c(header) != length_crc:
            raise ValueError(f"length CRC mismatch at byte {pos}")
        body = data[pos + 12:pos + 12 + length]
        if len(body) != length or pos + 16 + length > len(data):
            raise ValueError(f"truncated record at byte {pos}")
        (data_crc,) = struct.unpack("<I", data[pos + 12 + length:pos + 16 + length])
        if masked_crc32c(body) != data_crc:
            raise ValueError(f"data CRC mismatch in the record at byte {pos}")
        yield body
        pos += 16 + length


def main(argv):
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__)
        return 2
    path, expect = argv[0], []
    if "--expect" in argv:
        expect = argv[argv.index("--expect") + 1:]
    if os.path.isdir(path):
        files = sorted(n for n in os.listdir(path) if n.startswith("events.out.tfevents."))
        if not files:
            print(f"{path}: no events.out.tfevents.* file")
            return 1
        path = os.path.join(path, files[-1])
    Event = messages()
    tags = {}
    try:
        for i, body in enumerate(records(path)):
            event = Event.FromString(body)
            if i == 0:
                if event.file_version != "brain.Event:2":
                    raise ValueError(f"the first event is not the file version event (got {event.file_version!r})")
                continue
            for value in event.summary.value:
                kind = ("scalar" if value.HasField("simple_value") else "histogram" if value.HasField("histo")
                        else "image" if value.HasField("image") else "text" if value.HasField("tensor") else "?")
                points = tags.setdefault(value.tag, (kind, []))[1]
                shown = value.simple_value if kind == "scalar" else value.histo.num if kind == "histogram" else \
                    f"{value.image.width}x{value.image.height}" if kind == "image" else \
                    value.tensor.string_val[0].decode("utf-8") if kind == "text" else None
                if kind == "scalar" and points and event.step < points[-1][0]:
                    raise ValueError(f"tag {value.tag}: step {event.step} after step {points[-1][0]}")
                if not (event.wall_time > 1e9 and math.isfinite(event.wall_time)):
                    raise ValueError(f"tag {value.tag}: wall time {event.wall_time} is not a time in seconds since 1970")
                points.append((event.step, shown))
    except Exception as e:  # a malformed file of any kind is one failure line
        print(f"{path}: {e}")
        return 1
    print(f"{path}: {sum(len(p) for _, p in tags.values())} values under {len(tags)} tags")
    for tag, (kind, points) in sorted(tags.items()):
        print(f"  {tag:32} {kind:9} {len(points):6} points, steps {points[0][0]}..{points[-1][0]}, last {points[-1][1]}")
    missing = [t for t in expect if t not in tags]
    if missing:
        print("missing tags: " + ", ".join(missing))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
