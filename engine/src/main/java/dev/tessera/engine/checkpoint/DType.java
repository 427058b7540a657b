package dev.tessera.engine.checkpoint;

/** Safetensors element types. Only {@link #F32}, {@link #F16} and {@link #BF16} can be read as weights. */
public enum DType {
    F64(8), F32(4), F16(2), BF16(2), I64(8), I32(4), I16(2), I8(1), U8(1), BOOL(1), U16(2), U32(4), U64(8),
    F8_E4M3(1), F8_E5M2(1);

    public final int bytes;

    DType(int bytes) {
        this.bytes = bytes;
    }

    /** Whether weights of this type convert to fp32. */
    public boolean isFloatWeight() {
        return this == F32 || this == F16 || this == BF16;
    }
}
