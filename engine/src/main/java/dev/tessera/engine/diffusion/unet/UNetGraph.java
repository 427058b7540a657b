package dev.tessera.engine.diffusion.unet;

import dev.tessera.engine.diffusion.convert.Layers;
import dev.tessera.engine.onnx.GraphBuilder.ElementType;

import java.util.ArrayList;
import java.util.List;

/**
 * {@code UNet2DConditionModel} as one graph: {@value #SAMPLE} {@code [N, C, h, w]}, {@value #TIMESTEP} {@code [N]}
 * (one timestep per row, so jobs at different steps share a call) and {@value #CONTEXT} {@code [N, L, cross_dim]}
 * → {@value #NOISE} {@code [N, C_out, h, w]}. Any {@code h, w}: each upsampling resizes to the size of the skip it is
 * joined with, as diffusers does for sizes that are not multiples of the downscale.
 *
 * <p>Blocks as in diffusers: sinusoidal time projection and the time MLP; down blocks of ResNet blocks (GroupNorm,
 * SiLU, 3×3 convolutions, the time embedding added per channel, a 1×1 shortcut where widths change) and
 * {@code Transformer2DModel}s (GroupNorm ε 1e-6, 1×1 or linear projection, blocks of self-attention, cross-attention
 * to the text and a GEGLU feed-forward, each after a LayerNorm); the mid block; up blocks joining the skips in reverse;
 * GroupNorm, SiLU and the output convolution. Attention stays inside the graph: fine for small latents (the scores
 * of a 64×64 latent are 4096² per head), a known gap for large ones (engine README).
 *
 * <p>One builder of the blocks: {@link ControlNetGraph} builds its encoder with this class's {@link #down} and
 * {@link #mid}; {@link #writeWithResiduals} is the UNet that takes a ControlNet's residuals.
 */
public final class UNetGraph {
    public static final String NAME = "unet";
    public static final String SAMPLE = "sample";
    public static final String TIMESTEP = "timestep";
    public static final String CONTEXT = "encoder_hidden_states";
    public static final String NOISE = "noise_pred";
    /** Prefix of the residual inputs of {@link #writeWithResiduals}: {@code down_residual_0} ... */
    public static final String DOWN_RESIDUAL = "down_residual_";
    /** The mid-block residual input of {@link #writeWithResiduals}. */
    public static final String MID_RESIDUAL = "mid_residual";

    private final Layers l;
    private final UNetConfig c;
    private String timeAct = "";
    private String context = CONTEXT;

    /** A builder of UNet blocks into {@code l}'s graph; {@link ControlNetGraph} builds its encoder with one. */
    UNetGraph(Layers l, UNetConfig c) {
        this.l = l;
        this.c = c;
    }

    /** The plain UNet: {@value #SAMPLE}, {@value #TIMESTEP}, {@value #CONTEXT} → {@value #NOISE}. */
    public static void write(Layers l, UNetConfig c) {
        new UNetGraph(l, c).build(false);
    }

    /**
     * The UNet of a pipeline with a ControlNet: the plain UNet's inputs plus one residual per skip
     * ({@value #DOWN_RESIDUAL}{@code i}, shaped as skip {@code i}, added to it before the up blocks take it) and
     * {@value #MID_RESIDUAL} (added to the mid block's output), as diffusers' {@code down_block_additional_residuals}
     * and {@code mid_block_additional_residual}. Rows without ControlNet pass zeros.
     */
    public static void writeWithResiduals(Layers l, UNetConfig c) {
        new UNetGraph(l, c).build(true);
    }

    /** Skip connections of a UNet of {@code c}: the conv_in output, one per ResNet, one per downsampler. */
    public static int skipCount(UNetConfig c) {
        int n = c.blockOut().length;
        return 1 + n * c.layersPerBlock() + (n - 1);
    }

    /** The level (0 at full size, each level halves) of every skip connection, in order. */
    public static int[] skipLevels(UNetConfig c) {
        int n = c.blockOut().length;
        int[] levels = new int[skipCount(c)];
        int at = 1;
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < c.layersPerBlock(); j++) levels[at++] = i;
            if (i < n - 1) levels[at++] = i + 1;
        }
        return levels;
    }

    /** The channels of every skip connection, in order (a downsampler keeps its level's width). */
    public static int[] skipChannels(UNetConfig c) {
        int n = c.blockOut().length;
        int[] channels = new int[skipCount(c)];
        channels[0] = c.blockOut()[0];
        int at = 1;
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < c.layersPerBlock(); j++) channels[at++] = c.blockOut()[i];
            if (i < n - 1) channels[at++] = c.blockOut()[i];
        }
        return channels;
    }

    /** One skip connection of the down path: its value and channels. */
    record Skip(String value, long channels) {
    }

    private void build(boolean residuals) {
        int n = c.blockOut().length;
        long c0 = c.blockOut()[0];
        l.graph().input(SAMPLE, ElementType.FLOAT, "N", c.inChannels(), "H", "W");
        l.graph().input(TIMESTEP, ElementType.FLOAT, "N");
        l.graph().input(CONTEXT, ElementType.FLOAT, "N", "L", c.crossDim());
        embedTime();
        List<Skip> skips = down(l.conv(SAMPLE, "conv_in", c.inChannels(), c0, 3, 1, 1));
        String x = mid(skips.get(skips.size() - 1).value());
        if (residuals) {
            for (int i = 0; i < skips.size(); i++) {
                String r = DOWN_RESIDUAL + i;
                l.graph().input(r, ElementType.FLOAT, "N", skips.get(i).channels(), "h" + i, "w" + i);
                skips.set(i, new Skip(l.op("Add", skips.get(i).value(), r), skips.get(i).channels()));
            }
            l.graph().input(MID_RESIDUAL, ElementType.FLOAT, "N", c.blockOut()[n - 1], "hm", "wm");
            x = l.op("Add", x, MID_RESIDUAL);
        }
        long prev = c.blockOut()[n - 1];
        int next = skips.size() - 1;
        for (int i = 0; i < n; i++) {
            int r = n - 1 - i;
            long out = c.blockOut()[r];
            String p = "up_blocks." + i + ".";
            for (int j = 0; j <= c.layersPerBlock(); j++) {
                Skip skip = skips.get(next--);
                long resIn = j == 0 ? prev : out;
                x = l.graph().op("Concat", x, skip.value()).attr("axis", 1).out1();
                x = resnet(x, p + "resnets." + j, resIn + skip.channels(), out);
                if (c.crossUp()[i]) x = transformer(x, p + "attentions." + j, out, c.heads()[r],
                        c.transformerLayers()[r]);
            }
            if (i < n - 1) {
                x = upsample(x, skips.get(next).value());
                x = l.conv(x, p + "upsamplers.0.conv", out, out, 3, 1, 1);
            }
            prev = out;
        }
        x = l.silu(l.groupNorm(x, "conv_norm_out", c0, c.groups(), c.eps()));
        x = l.conv(x, "conv_out", c0, c.outChannels(), 3, 1, 1);
        l.graph().output(x, NOISE, ElementType.FLOAT, "N", c.outChannels(), "H", "W");
    }

    /** The time embedding of {@value #TIMESTEP}, through SiLU, which every ResNet block projects. */
    void embedTime() {
        timeAct = l.silu(timeEmbedding(c.blockOut()[0]));
    }

    /**
     * The down blocks from {@code x} (the conv_in output, plus the ControlNet's conditioning): every skip in order,
     * {@code x} first; the last is the down path's output.
     */
    List<Skip> down(String x) {
        int n = c.blockOut().length;
        long c0 = c.blockOut()[0];
        List<Skip> skips = new ArrayList<>();
        skips.add(new Skip(x, c0));
        for (int i = 0; i < n; i++) {
            long out = c.blockOut()[i];
            long in = i == 0 ? c0 : c.blockOut()[i - 1];
            String p = "down_blocks." + i + ".";
            for (int j = 0; j < c.layersPerBlock(); j++) {
                x = resnet(x, p + "resnets." + j, j == 0 ? in : out, out);
                if (c.crossDown()[i]) x = transformer(x, p + "attentions." + j, out, c.heads()[i],
                        c.transformerLayers()[i]);
                skips.add(new Skip(x, out));
            }
            if (i < n - 1) {
                x = l.conv(x, p + "downsamplers.0.conv", out, out, 3, 2, 1);
                skips.add(new Skip(x, out));
            }
        }
        return skips;
    }

    /** {@code UNetMidBlock2DCrossAttn}: ResNet, transformer, ResNet at the deepest width. */
    String mid(String x) {
        int n = c.blockOut().length;
        long last = c.blockOut()[n - 1];
        x = resnet(x, "mid_block.resnets.0", last, last);
        x = transformer(x, "mid_block.attentions.0", last, c.heads()[n - 1], c.transformerLayers()[n - 1]);
        return resnet(x, "mid_block.resnets.1", last, last);
    }

    /** diffusers' {@code get_timestep_embedding} then {@code TimestepEmbedding}: {@code [N]} → {@code [N, 4·c0]}. */
    private String timeEmbedding(long c0) {
        int half = (int) (c0 / 2);
        float[] freqs = new float[half];
        float logPeriod = (float) -Math.log(10000);
        for (int i = 0; i < half; i++) {
            float exponent = logPeriod * i / (half - c.freqShift()); // float32, as torch computes it
            freqs[i] = (float) Math.exp(exponent);
        }
        String f = l.constant("time_freqs", freqs, 1, half);
        String args = l.op("Mul", l.graph().op("Unsqueeze", TIMESTEP, l.ints(1)).out1(), f);
        String sin = l.op("Sin", args);
        String cos = l.op("Cos", args);
        String emb = c.flipSinToCos() ? l.graph().op("Concat", cos, sin).attr("axis", 1).out1()
                : l.graph().op("Concat", sin, cos).attr("axis", 1).out1();
        long dim = 4 * c0;
        String h = l.linear(emb, "time_embedding.linear_1", 2L * half, dim, true);
        return l.linear(l.silu(h), "time_embedding.linear_2", dim, dim, true);
    }

    /** {@code ResnetBlock2D} with the time embedding. */
    private String resnet(String x, String p, long in, long out) {
        String h = l.silu(l.groupNorm(x, p + ".norm1", in, c.groups(), c.eps()));
        h = l.conv(h, p + ".conv1", in, out, 3, 1, 1);
        String t = l.linear(timeAct, p + ".time_emb_proj", 4L * c.blockOut()[0], out, true);
        h = l.op("Add", h, l.graph().op("Unsqueeze", t, l.ints(2, 3)).out1());
        h = l.silu(l.groupNorm(h, p + ".norm2", out, c.groups(), c.eps()));
        h = l.conv(h, p + ".conv2", out, out, 3, 1, 1);
        String shortcut = in == out ? x : l.conv(x, p + ".conv_shortcut", in, out, 1, 1, 0);
        return l.op("Add", shortcut, h);
    }

    /** {@code Transformer2DModel} with {@code layers} {@code BasicTransformerBlock}s. */
    private String transformer(String x, String p, long ch, int heads, int layers) {
        String h = l.groupNorm(x, p + ".norm", ch, c.groups(), 1e-6f);
        if (c.linearProjection()) {
            h = l.linear(l.toTokens(h, ch), p + ".proj_in", ch, ch, true);
        } else {
            h = l.toTokens(l.conv(h, p + ".proj_in", ch, ch, 1, 1, 0), ch);
        }
        long headDim = ch / heads;
        for (int b = 0; b < layers; b++) {
            String bp = p + ".transformer_blocks." + b;
            String nrm = l.layerNorm(h, bp + ".norm1", ch, 1e-5f);
            h = l.op("Add", h, attention(nrm, nrm, bp + ".attn1", ch, ch, heads, headDim));
            nrm = l.layerNorm(h, bp + ".norm2", ch, 1e-5f);
            h = l.op("Add", h, attention(nrm, context, bp + ".attn2", ch, c.crossDim(), heads, headDim));
            nrm = l.layerNorm(h, bp + ".norm3", ch, 1e-5f);
            String proj = l.linear(nrm, bp + ".ff.net.0.proj", ch, 8 * ch, true);
            String[] parts = l.graph().op("Split", proj, l.ints(4 * ch, 4 * ch)).attr("axis", -1).outN(2);
            String ff = l.op("Mul", parts[0], l.gelu(parts[1]));
            h = l.op("Add", h, l.linear(ff, bp + ".ff.net.2", 4 * ch, ch, true));
        }
        String out;
        if (c.linearProjection()) {
            out = l.toImage(l.linear(h, p + ".proj_out", ch, ch, true), x);
        } else {
            out = l.conv(l.toImage(h, x), p + ".proj_out", ch, ch, 1, 1, 0);
        }
        return l.op("Add", out, x);
    }

    private String attention(String x, String kv, String p, long ch, long kvDim, int heads, long headDim) {
        String q = l.linear(x, p + ".to_q", ch, ch, false);
        String k = l.linear(kv, p + ".to_k", kvDim, ch, false);
        String v = l.linear(kv, p + ".to_v", kvDim, ch, false);
        return l.linear(l.attention(q, k, v, heads, headDim, null), p + ".to_out.0", ch, ch, true);
    }

    /** Nearest-neighbour upsampling to the spatial size of {@code like} (2× unless the size was odd). */
    private String upsample(String x, String like) {
        String sizes = l.graph().op("Concat", l.slice(l.op("Shape", x), 0, 2), l.slice(l.op("Shape", like), 2, 4))
                .attr("axis", 0).out1();
        return l.graph().op("Resize", x, "", "", sizes).attr("mode", "nearest")
                .attr("coordinate_transformation_mode", "asymmetric").attr("nearest_mode", "floor").out1();
    }
}
