package dev.tessera.engine.text.model;

/**
 * Rotary-embedding frequency scaling from {@code rope_scaling} / {@code rope_parameters}.
 *
 * @param type                      {@code default}, {@code linear} or {@code llama3}
 * @param factor                    scale factor (1 for default)
 * @param lowFreqFactor             llama3 only
 * @param highFreqFactor            llama3 only
 * @param originalMaxPositions      llama3 only: {@code original_max_position_embeddings}
 */
public record RopeScaling(String type, double factor, double lowFreqFactor, double highFreqFactor,
                          int originalMaxPositions) {
    public static final RopeScaling NONE = new RopeScaling("default", 1, 0, 0, 0);

    /**
     * The inverse frequencies of the {@code headDim / 2} rotary pairs, computed the way Hugging Face transformers
     * does in fp32: {@code 1 / theta^(2i / dim)}, then scaled.
     */
    public float[] inverseFrequencies(double theta, int headDim) {
        int half = headDim / 2;
        float[] inv = new float[half];
        for (int i = 0; i < half; i++) {
            float exponent = (float) (2 * i) / (float) headDim;
            inv[i] = 1.0f / (float) Math.pow(theta, exponent);
        }
        switch (type) {
            case "default" -> { }
            case "linear" -> {
                for (int i = 0; i < half; i++) inv[i] = (float) (inv[i] / factor);
            }
            case "llama3" -> {
                double lowWavelen = originalMaxPositions / lowFreqFactor;
                double highWavelen = originalMaxPositions / highFreqFactor;
                for (int i = 0; i < half; i++) {
                    double wavelen = 2 * Math.PI / inv[i];
                    double f;
                    if (wavelen > lowWavelen) {
                        f = inv[i] / factor;
                    } else if (wavelen < highWavelen) {
                        f = inv[i];
                    } else {
                        double smooth = (originalMaxPositions / wavelen - lowFreqFactor)
                                / (highFreqFactor - lowFreqFactor);
                        f = (1 - smooth) * inv[i] / factor + smooth * inv[i];
                    }
                    inv[i] = (float) f;
                }
            }
            default -> throw new IllegalStateException("rope type " + type);
        }
        return inv;
    }
}
