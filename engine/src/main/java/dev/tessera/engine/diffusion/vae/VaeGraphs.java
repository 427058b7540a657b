package dev.tessera.engine.diffusion.vae;

import dev.tessera.engine.diffusion.convert.Layers;
import dev.tessera.engine.onnx.GraphBuilder.ElementType;

/**
 * {@code AutoencoderKL}'s two halves as graphs:
 * <ul>
 *   <li>{@value #DECODER}: {@value #LATENTS} {@code [N, C, h, w]} (the sampler's latents) → {@value #IMAGE}
 *       {@code [N, 3, h·s, w·s]} in [0, 1]: divided by the scaling factor (plus the shift), {@code post_quant_conv},
 *       the decoder, then {@code clamp(x / 2 + 0.5, 0, 1)} as the pipelines' image processor does;</li>
 *   <li>{@value #ENCODER}: {@value #PIXELS} {@code [N, 3, H, W]} in [−1, 1] → {@value #MOMENTS}
 *       {@code [N, 2C, H/s, W/s]}: the posterior's mean then log-variance, before scaling.</li>
 * </ul>
 * ResNet blocks without time embedding (GroupNorm ε 1e-6), the single-head mid-block attention over every latent
 * position (inside the graph), nearest 2× upsampling, and the encoder's asymmetric (0, 1) padding before each
 * stride-2 convolution.
 */
public final class VaeGraphs {
    public static final String DECODER = "vae_decoder";
    public static final String ENCODER = "vae_encoder";
    public static final String LATENTS = "latents";
    public static final String IMAGE = "image";
    public static final String PIXELS = "pixels";
    public static final String MOMENTS = "moments";
    private static final float EPS = 1e-6f;

    private VaeGraphs() {
    }

    public static void writeDecoder(Layers l, VaeConfig c) {
        int n = c.blockOut().length;
        long lat = c.latentChannels();
        l.graph().input(LATENTS, ElementType.FLOAT, "N", lat, "h", "w");
        String z = l.op("Div", LATENTS, l.scalar(c.scalingFactor()));
        if (c.shiftFactor() != 0) z = l.op("Add", z, l.scalar(c.shiftFactor()));
        if (c.postQuantConv()) z = l.conv(z, "post_quant_conv", lat, lat, 1, 1, 0);
        long top = c.blockOut()[n - 1];
        String x = l.conv(z, "decoder.conv_in", lat, top, 3, 1, 1);
        x = mid(l, c, x, "decoder.mid_block", top);
        long prev = top;
        for (int i = 0; i < n; i++) {
            long out = c.blockOut()[n - 1 - i];
            String p = "decoder.up_blocks." + i + ".";
            for (int j = 0; j <= c.layersPerBlock(); j++) {
                x = resnet(l, c, x, p + "resnets." + j, j == 0 ? prev : out, out);
            }
            if (i < n - 1) {
                String scales = l.floats(1, 1, 2, 2);
                x = l.graph().op("Resize", x, "", scales).attr("mode", "nearest")
                        .attr("coordinate_transformation_mode", "asymmetric").attr("nearest_mode", "floor").out1();
                x = l.conv(x, p + "upsamplers.0.conv", out, out, 3, 1, 1);
            }
            prev = out;
        }
        long c0 = c.blockOut()[0];
        x = l.silu(l.groupNorm(x, "decoder.conv_norm_out", c0, c.groups(), EPS));
        x = l.conv(x, "decoder.conv_out", c0, c.outChannels(), 3, 1, 1);
        x = l.op("Add", l.op("Mul", x, l.scalar(0.5f)), l.scalar(0.5f));
        x = l.op("Clip", x, l.scalar(0f), l.scalar(1f));
        l.graph().output(x, IMAGE, ElementType.FLOAT, "N", c.outChannels(), "H", "W");
    }

    public static void writeEncoder(Layers l, VaeConfig c) {
        int n = c.blockOut().length;
        long c0 = c.blockOut()[0];
        l.graph().input(PIXELS, ElementType.FLOAT, "N", c.inChannels(), "H", "W");
        String x = l.conv(PIXELS, "encoder.conv_in", c.inChannels(), c0, 3, 1, 1);
        for (int i = 0; i < n; i++) {
            long out = c.blockOut()[i];
            long in = i == 0 ? c0 : c.blockOut()[i - 1];
            String p = "encoder.down_blocks." + i + ".";
            for (int j = 0; j < c.layersPerBlock(); j++) {
                x = resnet(l, c, x, p + "resnets." + j, j == 0 ? in : out, out);
            }
            if (i < n - 1) {
                x = l.op("Pad", x, l.ints(0, 0, 0, 0, 0, 0, 1, 1));
                x = l.conv(x, p + "downsamplers.0.conv", out, out, 3, 2, 0);
            }
        }
        long top = c.blockOut()[n - 1];
        x = mid(l, c, x, "encoder.mid_block", top);
        x = l.silu(l.groupNorm(x, "encoder.conv_norm_out", top, c.groups(), EPS));
        long moments = 2L * c.latentChannels();
        x = l.conv(x, "encoder.conv_out", top, moments, 3, 1, 1);
        if (c.quantConv()) x = l.conv(x, "quant_conv", moments, moments, 1, 1, 0);
        l.graph().output(x, MOMENTS, ElementType.FLOAT, "N", moments, "h", "w");
    }

    private static String mid(Layers l, VaeConfig c, String x, String p, long ch) {
        x = resnet(l, c, x, p + ".resnets.0", ch, ch);
        if (c.midAttention()) {
            String a = p + ".attentions.0";
            String t = l.toTokens(l.groupNorm(x, a + ".group_norm", ch, c.groups(), EPS), ch);
            String q = l.linear(t, a + ".to_q", ch, ch, true);
            String k = l.linear(t, a + ".to_k", ch, ch, true);
            String v = l.linear(t, a + ".to_v", ch, ch, true);
            String o = l.linear(l.attention(q, k, v, 1, ch, null), a + ".to_out.0", ch, ch, true);
            x = l.op("Add", l.toImage(o, x), x);
        }
        return resnet(l, c, x, p + ".resnets.1", ch, ch);
    }

    private static String resnet(Layers l, VaeConfig c, String x, String p, long in, long out) {
        String h = l.silu(l.groupNorm(x, p + ".norm1", in, c.groups(), EPS));
        h = l.conv(h, p + ".conv1", in, out, 3, 1, 1);
        h = l.silu(l.groupNorm(h, p + ".norm2", out, c.groups(), EPS));
        h = l.conv(h, p + ".conv2", out, out, 3, 1, 1);
        String shortcut = in == out ? x : l.conv(x, p + ".conv_shortcut", in, out, 1, 1, 0);
        return l.op("Add", shortcut, h);
    }
}
