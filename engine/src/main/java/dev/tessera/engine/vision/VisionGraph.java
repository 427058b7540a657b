package dev.tessera.engine.vision;

/**
 * Names of the vision tower's segment graphs and of their inputs and outputs, shared by {@link VisionConverter} and
 * {@link VisionEncoder}.
 *
 * <p>Segment 0: {@link #PIXELS} {@code [N, patchDim]}, {@link #COS}, {@link #SIN} {@code [N, headDim]} → patch
 * embedding, block 0's LayerNorm, q/k/v and 2-D RoPE: {@link #Q}, {@link #K}, {@link #V} {@code [N, embed]},
 * {@link #RESIDUAL}. Segment i (1 ≤ i &lt; depth): {@link #ATTN}, {@link #RESIDUAL_IN}, cos, sin → block i-1's
 * projection and MLP, block i's q/k/v. Segment depth: attn, residual_in → the last block's tail and the patch merger:
 * {@link #EMBEDS} {@code [N / merge², hidden]}. Rows are the patches of every image of the step, packed; N is dynamic.
 * Qwen3-VL's segment 0 also takes {@link #POS_INDEX} and {@link #POS_WEIGHT}, and the segment ending each DeepStack
 * block also outputs {@link #deepstack(int)}.
 */
public final class VisionGraph {
    public static final String PIXELS = "pixels";
    public static final String COS = "rope_cos";
    public static final String SIN = "rope_sin";
    public static final String ATTN = "attn";
    public static final String RESIDUAL_IN = "residual_in";
    public static final String Q = "q";
    public static final String K = "k";
    public static final String V = "v";
    public static final String RESIDUAL = "residual";
    public static final String EMBEDS = "embeds";
    /** Qwen3-VL segment 0: per patch the 4 rows of the position table it interpolates, {@code [N, 4]} int64. */
    public static final String POS_INDEX = "pos_index";
    /** Qwen3-VL segment 0: their bilinear weights, {@code [N, 4]}. */
    public static final String POS_WEIGHT = "pos_weight";

    private VisionGraph() {
    }

    /**
     * Qwen3-VL: the output of DeepStack merger {@code k} {@code [N / merge², hidden]}, from the segment that ends the
     * block it follows.
     */
    public static String deepstack(int k) {
        return "deepstack_" + k;
    }

    /** File name of segment {@code i}. */
    public static String fileName(int i) {
        return String.format("vision-%03d.onnx", i);
    }
}
