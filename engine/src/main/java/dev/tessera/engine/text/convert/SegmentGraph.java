package dev.tessera.engine.text.convert;

/**
 * The names of the inputs and outputs of the segment graphs, shared by the converter and the executor.
 *
 * <p>Segment 0: {@link #INPUT_IDS}, {@link #POSITIONS} → {@link #Q}, {@link #K}, {@link #V} {@code [1, T, ...]},
 * {@link #RESIDUAL}, {@link #ROPE_COS}, {@link #ROPE_SIN}.
 * Segment i (1 ≤ i &lt; L): {@link #ATTN}, {@link #RESIDUAL_IN}, {@link #ROPE_COS}, {@link #ROPE_SIN} → q, k, v,
 * residual.
 * Segment L: {@link #ATTN} {@code [S, H*D]} (the last layer's attention of the logit rows only), {@link #RESIDUAL_IN}
 * {@code [T, hidden]}, {@link #LOGIT_ROWS} {@code [S]} → {@link #LOGITS} {@code [S, vocab]}.
 * Rows are the packed new tokens {@code [T, ...]}; T is dynamic; S is the number of logit rows. With M-RoPE
 * (Qwen2-VL) {@link #POSITIONS} is {@code [3, T]}; a vision-language decoder's segment 0 also takes
 * {@link #EMBED_ROWS} {@code [M]} and {@link #EMBEDS} {@code [M, hidden]}; with DeepStack (Qwen3-VL) segments 1..D
 * also take {@link #EMBED_ROWS} and {@link #DEEPSTACK}.
 */
public final class SegmentGraph {
    public static final String INPUT_IDS = "input_ids";
    public static final String POSITIONS = "positions";
    public static final String ATTN = "attn";
    public static final String RESIDUAL_IN = "residual_in";
    public static final String LOGIT_ROWS = "logit_rows";
    public static final String Q = "q";
    public static final String K = "k";
    public static final String V = "v";
    public static final String RESIDUAL = "residual";
    public static final String LOGITS = "logits";
    /** Segment 0 of a vision-language decoder: the rows {@code [M]} whose input embeddings are given. */
    public static final String EMBED_ROWS = "embed_rows";
    /** Segment 0 of a vision-language decoder: those rows' embeddings {@code [M, hidden]}. */
    public static final String EMBEDS = "embeds";
    /**
     * Segments 1..D of a DeepStack decoder (Qwen3-VL): the vision features {@code [M, hidden]} added to the previous
     * layer's output at rows {@link #EMBED_ROWS}.
     */
    public static final String DEEPSTACK = "deepstack";
    /**
     * Segment 0's outputs and the inputs of segments 1..L-1: cos and sin of each token's rotary angles
     * {@code [T, D/2]}, computed once per step from {@link #POSITIONS}.
     */
    public static final String ROPE_COS = "rope_cos";
    public static final String ROPE_SIN = "rope_sin";

    private SegmentGraph() {
    }

    /** File name of segment {@code i} inside a converted model's directory. */
    public static String fileName(int i) {
        return String.format("segment-%03d.onnx", i);
    }
}
