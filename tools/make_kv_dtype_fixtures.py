"""Fixture for the KV cache's 16-bit rounding: floats and their torch bfloat16 / float16 bit patterns.

torch's `.to(torch.bfloat16)` and `.to(torch.float16)` round to nearest, ties to even, and are what the KV cache's
writes must equal (kv-cache's HalfFloat, checked by HalfFloatTest). The values cover ties (exactly half an ulp,
odd and even), values just off a tie, the largest finite values and the overflow to infinity, fp16 subnormals and
underflow, signed zeros, infinities, NaN, and random floats over the whole exponent range.

Run: python3 tools/make_kv_dtype_fixtures.py  (writes kv-cache/src/test/resources/half-float-rounding.txt)
"""
import os
import struct

import torch


def f32_from_bits(b):
    return struct.unpack("<f", struct.pack("<I", b & 0xFFFFFFFF))[0]


def main():
    bits = set()
    # bfloat16 ties: the low 16 bits exactly 0x8000, with the kept lsb even and odd, and one bit either side
    for hi in (0x3F80, 0x3F81, 0x4049, 0x404A, 0xC2F7, 0x7F7F, 0x0001, 0x0080, 0x8080):
        for lo in (0x7FFF, 0x8000, 0x8001, 0x0000, 0xFFFF):
            bits.add((hi << 16) | lo)
    # float16 ties: 13 dropped mantissa bits exactly 0x1000, around normal and subnormal values
    for base in (0x3F800000, 0x3F802000, 0x477FE000, 0x38800000, 0x38802000, 0x33800000, 0x33000000, 0x387FC000,
                 0x35000000, 0xBF806000):
        for delta in (-1, 0, 1, 0x0FFF, 0x1000, 0x1001):
            bits.add(base + delta)
    specials = [0.0, -0.0, 1.0, -1.0, 65504.0, 65519.0, 65520.0, 65536.0, -65520.0, 1e-8, 2.0 ** -24, 2.0 ** -25,
                3 * 2.0 ** -26, 2.0 ** -14, 2.0 ** -15, 6.1e-5, 3.4e38, -3.4e38, 1e-40, -1e-45,
                float("inf"), float("-inf")]
    for v in specials:
        bits.add(struct.unpack("<I", struct.pack("<f", v))[0])
    g = torch.Generator().manual_seed(20261201)
    for b in torch.randint(0, 2 ** 32, (400,), generator=g, dtype=torch.int64).tolist():
        if (b >> 23) & 0xFF != 0xFF:  # NaNs are checked apart: their payloads are not compared
            bits.add(b)
    # values of the size K/V rows have: normal around 1, scaled
    for v in (torch.randn(300, generator=g) * torch.logspace(-6, 4, 300)).tolist():
        bits.add(struct.unpack("<I", struct.pack("<f", v))[0])
    ordered = sorted(bits)
    x = torch.tensor([f32_from_bits(b) for b in ordered], dtype=torch.float32)
    bf16 = x.to(torch.bfloat16).view(torch.int16).to(torch.int32).bitwise_and(0xFFFF).tolist()
    fp16 = x.to(torch.float16).view(torch.int16).to(torch.int32).bitwise_and(0xFFFF).tolist()
    path = os.path.join(os.path.dirname(__file__), "..", "kv-cache", "src", "test", "resources",
                        "half-float-rounding.txt")
    with open(path, "w") as f:
        f.write(f"# made by tools/make_kv_dtype_fixtures.py with torch {torch.__version__}\n")
        f.write("# float32 bits, torch bfloat16 bits, torch float16 bits (hex)\n")
        for b, h, e in zip(ordered, bf16, fp16):
            f.write(f"{b:08x} {h:04x} {e:04x}\n")
    print(f"{len(ordered)} values -> {os.path.normpath(path)}")


if __name__ == "__main__":
    main()
