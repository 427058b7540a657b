package dev.tessera.engine.detect.convert;

import dev.tessera.engine.checkpoint.Checkpoint;
import dev.tessera.engine.checkpoint.CheckpointException;
import dev.tessera.engine.checkpoint.TensorInfo;
import dev.tessera.engine.detect.model.DetrConfig;
import org.jspecify.annotations.Nullable;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Every tensor a DETR needs, found and shape-checked. Constructing one validates the whole checkpoint: a missing
 * tensor, a wrong shape, a non-float dtype, or a backbone that is not a plain Bottleneck ResNet throws a
 * {@link CheckpointException} naming the file and tensor.
 *
 * <p>The ResNet's depths and widths are read from the tensors: the stem's 7×7 convolution, then for each of the 4
 * stages the blocks {@code 0, 1, ...} that exist (checked against {@code depths} in the config, or against the
 * known depths of timm's {@code resnet26/50/101/152/200}), each a 1×1 → 3×3 (stride 2 in the first block of stages
 * 2–4) → 1×1 bottleneck with a 1×1 projection shortcut where the shape or stride changes. Every backbone tensor must
 * be used (BatchNorm's {@code num_batches_tracked} aside), so a ResNet variant with extra parts (squeeze-excitation,
 * a deep stem, ...) is refused instead of being run wrong.
 *
 * <p>Names: what transformers 5.24 saves (the legacy names of published checkpoints:
 * {@code model.backbone.conv_encoder.model.*}, {@code self_attn.out_proj}, {@code fc1}) and, as aliases, the module
 * names transformers 5 uses in memory ({@code model.backbone.model.*}, {@code o_proj}, {@code mlp.fc1}).
 */
public final class DetrWeights {
    private static final String[] BACKBONE_PREFIXES = {"model.backbone.conv_encoder.model.", "model.backbone.model."};
    private static final Map<String, int[]> TIMM_DEPTHS = Map.of(
            "resnet26", new int[] {2, 2, 2, 2},
            "resnet50", new int[] {3, 4, 6, 3},
            "resnet101", new int[] {3, 4, 23, 3},
            "resnet152", new int[] {3, 8, 36, 3},
            "resnet200", new int[] {3, 24, 36, 3});

    /** A convolution followed by a frozen BatchNorm. */
    public record ConvBn(TensorInfo conv, TensorInfo gamma, TensorInfo beta, TensorInfo mean, TensorInfo var,
                         int stride, int pad) {
        public long outChannels() {
            return conv.shape()[0];
        }
    }

    /** A Bottleneck block; {@code shortcut} is null where the identity is used. */
    public record Block(ConvBn reduce, ConvBn conv3x3, ConvBn expand, @Nullable ConvBn shortcut) {
    }

    /** Projections of one attention; q/k/v/o weights are {@code [d, d]}, biases {@code [d]}. */
    public record Attention(TensorInfo q, TensorInfo qBias, TensorInfo k, TensorInfo kBias, TensorInfo v,
                            TensorInfo vBias, TensorInfo o, TensorInfo oBias) {
    }

    /** A LayerNorm's weight and bias. */
    public record Norm(TensorInfo weight, TensorInfo bias) {
    }

    /** A linear layer, weight {@code [out, in]}. */
    public record Linear(TensorInfo weight, TensorInfo bias) {
    }

    public record EncoderLayer(Attention self, Norm selfNorm, Linear fc1, Linear fc2, Norm finalNorm) {
    }

    public record DecoderLayer(Attention self, Norm selfNorm, Attention cross, Norm crossNorm, Linear fc1,
                               Linear fc2, Norm finalNorm) {
    }

    private final Checkpoint ck;
    private final DetrConfig config;
    private final Set<String> used = new HashSet<>();
    public final ConvBn stem;
    /** Blocks of the 4 stages. */
    public final List<List<Block>> stages;
    public final Linear inputProjection;
    public final TensorInfo queryEmbeddings;
    public final List<EncoderLayer> encoder;
    public final List<DecoderLayer> decoder;
    public final Norm decoderNorm;
    public final Linear classifier;
    public final List<Linear> boxHead;

    public DetrWeights(Checkpoint ck, DetrConfig config) {
        this.ck = ck;
        this.config = config;
        long d = config.dModel();
        String prefix = backbonePrefix();
        boolean timm = config.backbone().layout() == DetrConfig.Layout.TIMM;
        try {
            stem = timm ? convBn(prefix + "conv1", prefix + "bn1", -1, 3, 7, 2, 3)
                    : nativeConv(prefix + "embedder.embedder", -1, 3, 7, 2, 3);
            stages = timm ? timmStages(prefix) : nativeStages(prefix);
            checkAllUsed(prefix);
        } catch (CheckpointException e) {
            throw new CheckpointException(e.file(), e.tensor(), e.getMessage().substring(describePrefix(e).length())
                    + " (backbone " + config.backbone() + ": only ResNets with a 7x7 stem and Bottleneck blocks, "
                    + "such as resnet50 and resnet101, are supported)", e);
        }
        long channels = lastChannels();
        inputProjection = new Linear(expect("model.input_projection.weight", d, channels, 1, 1),
                expect("model.input_projection.bias", d));
        queryEmbeddings = expect("model.query_position_embeddings.weight", config.numQueries(), d);
        List<EncoderLayer> enc = new ArrayList<>();
        for (int i = 0; i < config.encoderLayers(); i++) {
            String p = "model.encoder.layers." + i + ".";
            enc.add(new EncoderLayer(attention(p + "self_attn."), norm(p + "self_attn_layer_norm."),
                    linear(p + "fc1.", config.encoderFfn(), d), linear(p + "fc2.", d, config.encoderFfn()),
                    norm(p + "final_layer_norm.")));
        }
        encoder = List.copyOf(enc);
        List<DecoderLayer> dec = new ArrayList<>();
        for (int i = 0; i < config.decoderLayers(); i++) {
            String p = "model.decoder.layers." + i + ".";
            dec.add(new DecoderLayer(attention(p + "self_attn."), norm(p + "self_attn_layer_norm."),
                    attention(p + "encoder_attn."), norm(p + "encoder_attn_layer_norm."),
                    linear(p + "fc1.", config.decoderFfn(), d), linear(p + "fc2.", d, config.decoderFfn()),
                    norm(p + "final_layer_norm.")));
        }
        decoder = List.copyOf(dec);
        decoderNorm = norm("model.decoder.layernorm.");
        classifier = linear("class_labels_classifier.", config.numLabels() + 1, d);
        boxHead = List.of(linear("bbox_predictor.layers.0.", d, d), linear("bbox_predictor.layers.1.", d, d),
                linear("bbox_predictor.layers.2.", 4, d));
    }

    /** Channels of the last stage's output (the input projection's input). */
    public long lastChannels() {
        List<Block> last = stages.get(stages.size() - 1);
        return last.get(last.size() - 1).expand().outChannels();
    }

    /** Blocks per stage. */
    public int[] depths() {
        return stages.stream().mapToInt(List::size).toArray();
    }

    /** For logs and model info: layout, name, depths and widths. */
    public String describeBackbone() {
        long[] widths = stages.stream().mapToLong(s -> s.get(0).expand().outChannels()).toArray();
        return (config.backbone().layout() == DetrConfig.Layout.TIMM ? "timm " + config.backbone().name()
                : "transformers ResNet") + " (bottleneck, depths " + Arrays.toString(depths()) + ", widths "
                + Arrays.toString(widths) + ")";
    }

    private String backbonePrefix() {
        String stemName = config.backbone().layout() == DetrConfig.Layout.TIMM ? "conv1.weight"
                : "embedder.embedder.convolution.weight";
        for (String p : BACKBONE_PREFIXES) {
            if (ck.has(p + stemName)) return p;
        }
        ck.tensor(BACKBONE_PREFIXES[0] + stemName); // throws: missing tensor, named as published checkpoints name it
        throw new IllegalStateException("unreachable");
    }

    private List<List<Block>> timmStages(String prefix) {
        String base = config.backbone().name();
        int dot = base.indexOf('.');
        String arch = dot < 0 ? base : base.substring(0, dot);
        int[] known = TIMM_DEPTHS.get(arch);
        if (arch.matches("resnet(10|14|18|34)[a-z]*")) {
            throw new CheckpointException(ck.dir().resolve("config.json"), null, "backbone " + base
                    + " has basic (two 3x3) blocks, which are not supported");
        }
        List<List<Block>> out = new ArrayList<>();
        long in = stem.outChannels();
        for (int s = 0; s < 4; s++) {
            final int stage = s + 1;
            List<Block> blocks = new ArrayList<>();
            int n = known != null ? known[s] : count(b -> prefix + "layer" + stage + "." + b + ".conv1.weight");
            if (n == 0) ck.tensor(prefix + "layer" + (s + 1) + ".0.conv1.weight"); // throws: missing
            for (int b = 0; b < n; b++) {
                String p = prefix + "layer" + (s + 1) + "." + b + ".";
                int stride = b == 0 && s > 0 ? 2 : 1;
                ConvBn reduce = convBn(p + "conv1", p + "bn1", -1, in, 1, 1, 0);
                long w = reduce.outChannels();
                ConvBn mid = convBn(p + "conv2", p + "bn2", w, w, 3, stride, 1);
                ConvBn expand = convBn(p + "conv3", p + "bn3", -1, w, 1, 1, 0);
                long o = expand.outChannels();
                ConvBn shortcut = null;
                if (ck.has(p + "downsample.0.weight") || in != o || stride != 1) {
                    shortcut = convBn(p + "downsample.0", p + "downsample.1", o, in, 1, stride, 0);
                }
                blocks.add(new Block(reduce, mid, expand, shortcut));
                in = o;
            }
            out.add(List.copyOf(blocks));
        }
        return List.copyOf(out);
    }

    private List<List<Block>> nativeStages(String prefix) {
        int[] depths = config.backbone().depths();
        List<List<Block>> out = new ArrayList<>();
        long in = stem.outChannels();
        for (int s = 0; s < 4; s++) {
            final int stage = s;
            int n = depths != null ? depths[s]
                    : count(b -> prefix + "encoder.stages." + stage + ".layers." + b + ".layer.0.convolution.weight");
            if (n == 0) ck.tensor(prefix + "encoder.stages." + s + ".layers.0.layer.0.convolution.weight");
            List<Block> blocks = new ArrayList<>();
            for (int b = 0; b < n; b++) {
                String p = prefix + "encoder.stages." + s + ".layers." + b + ".";
                int stride = b == 0 && s > 0 ? 2 : 1;
                ConvBn reduce = nativeConv(p + "layer.0", -1, in, 1, 1, 0);
                long w = reduce.outChannels();
                ConvBn mid = nativeConv(p + "layer.1", w, w, 3, stride, 1);
                ConvBn expand = nativeConv(p + "layer.2", -1, w, 1, 1, 0);
                long o = expand.outChannels();
                ConvBn shortcut = null;
                if (ck.has(p + "shortcut.convolution.weight") || in != o || stride != 1) {
                    shortcut = nativeConv(p + "shortcut", o, in, 1, stride, 0);
                }
                blocks.add(new Block(reduce, mid, expand, shortcut));
                in = o;
            }
            out.add(List.copyOf(blocks));
        }
        return List.copyOf(out);
    }

    private interface Name {
        String of(int b);
    }

    private int count(Name name) {
        int n = 0;
        while (ck.has(name.of(n))) n++;
        return n;
    }

    private ConvBn nativeConv(String p, long out, long in, int k, int stride, int pad) {
        return convBn(p + ".convolution", p + ".normalization", out, in, k, stride, pad);
    }

    /** A conv {@code [out, in, k, k]} (out = -1: whatever it has) and its BatchNorm's four vectors. */
    private ConvBn convBn(String conv, String bn, long out, long in, int k, int stride, int pad) {
        TensorInfo w = ck.tensor(conv + ".weight");
        long o = out >= 0 ? out : w.shape().length == 4 ? w.shape()[0] : -1;
        TensorInfo checked = expect(conv + ".weight", o, in, k, k);
        return new ConvBn(checked, expect(bn + ".weight", o), expect(bn + ".bias", o), expect(bn + ".running_mean", o),
                expect(bn + ".running_var", o), stride, pad);
    }

    private void checkAllUsed(String prefix) {
        for (String name : ck.tensorNames()) {
            if (name.startsWith(prefix) && !used.contains(name) && !name.endsWith(".num_batches_tracked")) {
                TensorInfo t = ck.tensor(name);
                throw new CheckpointException(t.file(), name, "unexpected backbone tensor: not part of a plain "
                        + "Bottleneck ResNet");
            }
        }
    }

    private Attention attention(String p) {
        long d = config.dModel();
        return new Attention(expect(p + "q_proj.weight", d, d), expect(p + "q_proj.bias", d),
                expect(p + "k_proj.weight", d, d), expect(p + "k_proj.bias", d), expect(p + "v_proj.weight", d, d),
                expect(p + "v_proj.bias", d), expect(p + "out_proj.weight", d, d), expect(p + "out_proj.bias", d));
    }

    private Norm norm(String p) {
        return new Norm(expect(p + "weight", config.dModel()), expect(p + "bias", config.dModel()));
    }

    private Linear linear(String p, long out, long in) {
        return new Linear(expect(p + "weight", out, in), expect(p + "bias", out));
    }

    /** The tensor {@code name} (or its transformers-5 in-memory alias) with exactly {@code shape}. */
    private TensorInfo expect(String name, long... shape) {
        String actual = name;
        if (!ck.has(name)) {
            String alias = alias(name);
            if (alias != null && ck.has(alias)) actual = alias;
        }
        TensorInfo t = ck.expect(actual, shape);
        used.add(actual);
        return t;
    }

    private static @Nullable String alias(String name) {
        if (name.contains(".out_proj.")) return name.replace(".out_proj.", ".o_proj.");
        if (name.matches(".*layers\\.\\d+\\.fc[12]\\..*")) return name.replaceFirst("\\.(fc[12])\\.", ".mlp.$1.");
        return null;
    }

    private static String describePrefix(CheckpointException e) {
        String msg = e.getMessage();
        String head = "";
        if (e.file() != null) head += e.file();
        if (e.tensor() != null) head += (head.isEmpty() ? "tensor " : ": tensor ") + e.tensor();
        if (!head.isEmpty()) head += ": ";
        return msg.startsWith(head) ? head : "";
    }
}
