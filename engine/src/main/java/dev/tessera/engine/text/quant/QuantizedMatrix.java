package dev.tessera.engine.text.quant;

/**
 * A {@code [n, k]} weight (rows are output features, as a checkpoint's {@code [out, in]}) in MatMulNBits' layout.
 *
 * @param n          output features
 * @param k          input features
 * @param q          {@code [n, kBlocks, blockSize * bits / 8]} codes, packed low bits first along K
 * @param scales     {@code [n, kBlocks]}
 * @param zeroPoints {@code [n, ceil(kBlocks * bits / 8)]} packed codes, or null when symmetric
 */
public record QuantizedMatrix(WeightQuantization format, int n, int k, byte[] q, float[] scales,
                              byte[] zeroPoints) {
    public int kBlocks() {
        return (k + format.blockSize() - 1) / format.blockSize();
    }

    /** Bytes per block of codes. */
    public int blobSize() {
        return format.blockSize() * format.bits() / 8;
    }

    /** Bytes of the packed zero points of one row. */
    public int zeroPointBytesPerRow() {
        return (kBlocks() * format.bits() + 7) / 8;
    }
}
