package dev.tessera.builtin;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryNotEmptyException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The built-in models, made on first use by this project's own code so that nothing has to be downloaded.
 *
 * <p><b>Their weights are random</b> (drawn from a fixed seed), so the text they generate is gibberish. They exist to
 * exercise the whole serving path (tokenizer, converter, scheduler, KV cache, sampling, streaming) and to give the
 * benchmarks a model of realistic shape:
 * <ul>
 *   <li>{@code tiny}: the default model of {@code serve}; Llama-shaped, hidden 256, 4 layers, 8 query / 2 KV heads,
 *       intermediate 688, about 6M parameters, 2048 positions;</li>
 *   <li>{@code bench}: for the benchmarks, compute-dominated; hidden 512, 8 layers, 8 query / 2 KV heads (head_dim
 *       64), intermediate 1536, about 30M parameters, 4096 positions.</li>
 * </ul>
 *
 * <p>Each is a regular Hugging Face checkpoint directory ({@code config.json} for {@code LlamaForCausalLM}, fp32
 * {@code model.safetensors}, {@code generation_config.json}, {@code tokenizer.json}, and {@code tokenizer_config.json}
 * with a simple chat template of its own, {@link #CHAT_TEMPLATE}, so that the default server answers chat). The tokenizer is a real
 * byte-level BPE, trained here by {@link BpeTrainer} on a committed English corpus (with some code and non-Latin text)
 * and saved in the {@code tokenizers} library's own format (about 6k tokens, shared by both models); bos
 * {@code <s>} = 1, eos {@code </s>} = 2. Generating {@code tiny} takes a few seconds, {@code bench} writes 120 MB.
 *
 * <p>{@code vlm-tiny} and {@code vlm-bench} are random Qwen2-VL models (text and images; see {@link VlmBuiltins}).
 * Two built-in DETR detectors, {@code detr-tiny} and {@code detr-bench}, also have random weights (their detections
 * are meaningless); they are described in {@link DetrBuiltins}. {@code sd-tiny} (with a ControlNet) and
 * {@code sd-bench} (without) are random Stable-Diffusion-shaped diffusers pipelines (their images are noise; see
 * {@link SdBuiltins}).
 *
 * <p>The directory is {@code <cacheDir>/models/builtin-<name>-v<version>} ({@value #TEXT_VERSION} for the text
 * models, {@value #SD_TINY_VERSION} for {@code sd-tiny}, {@value #VLM_BENCH_VERSION} for {@code vlm-bench},
 * {@value #VERSION} for {@code sd-bench}, {@code vlm-tiny} and the detectors). It is generated into a temporary
 * directory and renamed into place atomically, so a directory that exists is complete; later calls (and other
 * processes) reuse it.
 * Generation is deterministic: the same name and version always give the same bytes. The version suffix changes
 * whenever the generator would produce different files.
 */
public final class BuiltinModels {
    private static final Logger logger = LoggerFactory.getLogger(BuiltinModels.class);

    /** Generator version of the detectors: part of the directory name. */
    static final int VERSION = 1;
    /** Generator version of the text models (2: {@code tokenizer_config.json} with a chat template). */
    static final int TEXT_VERSION = 2;
    /** Generator version of {@code sd-tiny} (2: with its ControlNet, {@code controlnet/}). */
    static final int SD_TINY_VERSION = 2;
    /** Generator version of {@code vlm-bench} (2: Qwen2-VL's own pixel bounds, so its images keep their size). */
    static final int VLM_BENCH_VERSION = 2;
    /**
     * The built-in text models' chat template: each message as {@code <|role|>}, a newline, its content and
     * {@code </s>}, after {@code <s>}; the generation prompt is {@code <|assistant|>} and a newline. The special
     * tokens are written by the template, so the rendered text is tokenized without adding any.
     */
    public static final String CHAT_TEMPLATE = "{{ bos_token }}{% for message in messages %}"
            + "{{ '<|' + message['role'] + '|>\\n' + message['content'] + eos_token + '\\n' }}"
            + "{% endfor %}{% if add_generation_prompt %}{{ '<|assistant|>\\n' }}{% endif %}";
    static final List<String> SPECIAL_TOKENS = List.of("<unk>", "<s>", "</s>");
    static final int BOS_ID = 1;
    static final int EOS_ID = 2;
    private static final String CORPUS_RESOURCE = "corpus.txt";
    private static final List<String> FILES =
            List.of("config.json", "generation_config.json", "tokenizer.json", "tokenizer_config.json",
                    "model.safetensors");

    /** Shape and seed of one built-in model. */
    record Spec(String name, int hidden, int layers, int heads, int kvHeads, int headDim, int intermediate,
                int maxPositions, double ropeTheta, long seed) {}

    private static final Map<String, Spec> SPECS = Map.of(
            "tiny", new Spec("tiny", 256, 4, 8, 2, 32, 688, 2048, 10000.0, 0x7e55e7a1L),
            "bench", new Spec("bench", 512, 8, 8, 2, 64, 1536, 4096, 10000.0, 0xbe7c4L));
    /**
     * Both models share one tokenizer. The corpus is small, so training runs until every piece of it is one token
     * (pairs seen once are merged too); it stops near 6k tokens, short of this target.
     */
    static final int TOKENIZER_VOCAB_TARGET = 8192;
    static final int TOKENIZER_MIN_PAIR_COUNT = 1;

    private BuiltinModels() {}

    /**
     * Names of the built-in models: the text models, the vision-language models {@code vlm-tiny} and
     * {@code vlm-bench} (text models that also take images, see {@link VlmBuiltins}), then the detectors
     * ({@link #isDetector}), then the diffusion pipelines {@code sd-tiny} and {@code sd-bench} ({@link #isDiffusion}).
     */
    public static List<String> names() {
        return List.of("tiny", "bench", "vlm-tiny", "vlm-bench", "detr-tiny", "detr-bench", "sd-tiny", "sd-bench");
    }

    /** Whether {@code name} names a built-in model. */
    public static boolean isBuiltin(String name) {
        return SPECS.containsKey(name) || VlmBuiltins.isVlm(name) || DetrBuiltins.isDetr(name)
                || SdBuiltins.isDiffusion(name);
    }

    /**
     * Whether {@code name} names a built-in diffusion pipeline ({@code sd-tiny}, {@code sd-bench}: diffusers
     * directories with random weights whose images are noise, see {@link SdBuiltins}).
     */
    public static boolean isDiffusion(String name) {
        return SdBuiltins.isDiffusion(name);
    }

    /**
     * Whether {@code name} names a built-in DETR detector ({@code detr-tiny}, {@code detr-bench}; random weights,
     * see {@link DetrBuiltins}) rather than a text model.
     */
    public static boolean isDetector(String name) {
        return DetrBuiltins.isDetr(name);
    }

    /**
     * Returns the checkpoint directory of built-in model {@code name}, generating it under {@code cacheDir} first if
     * it is not there yet.
     *
     * @throws IllegalArgumentException for an unknown name
     * @throws IllegalStateException when the directory exists but lacks one of its files
     * @throws UncheckedIOException when the cache directory cannot be written
     */
    public static Path materialize(String name, Path cacheDir) {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(cacheDir, "cacheDir");
        DetrBuiltins.Spec detr = DetrBuiltins.SPECS.get(name);
        if (detr != null) {
            return materialize(name, "builtin-" + name + "-v" + VERSION, DetrBuiltins.FILES,
                    tmp -> DetrBuiltins.generate(detr, tmp, VERSION), cacheDir);
        }
        SdBuiltins.Spec sd = SdBuiltins.SPECS.get(name);
        if (sd != null) {
            int version = sdVersion(name);
            return materialize(name, "builtin-" + name + "-v" + version, SdBuiltins.files(sd),
                    tmp -> SdBuiltins.generate(sd, tmp, version), cacheDir);
        }
        VlmBuiltins.Spec vlm = VlmBuiltins.SPECS.get(name);
        if (vlm != null) {
            int version = name.equals("vlm-bench") ? VLM_BENCH_VERSION : VERSION;
            return materialize(name, "builtin-" + name + "-v" + version, VlmBuiltins.FILES,
                    tmp -> VlmBuiltins.generate(vlm, tmp, version), cacheDir);
        }
        Spec spec = SPECS.get(name);
        if (spec == null) {
            throw new IllegalArgumentException("unknown built-in model '" + name + "'; known: " + names());
        }
        return materialize(name, directoryName(spec), FILES, tmp -> generate(spec, tmp), cacheDir);
    }

    /** Writes a model's files into a fresh directory. */
    private interface Generator {
        void generate(Path dir) throws IOException;
    }

    private static Path materialize(String name, String dirName, List<String> files, Generator generator,
                                    Path cacheDir) {
        Path models = cacheDir.resolve("models");
        Path dir = models.resolve(dirName);
        if (Files.isDirectory(dir)) {
            return checkComplete(dir, files);
        }
        Path tmp = null;
        try {
            Files.createDirectories(models);
            tmp = Files.createTempDirectory(models, "." + dirName + ".tmp");
            readableByAll(tmp);
            long start = System.nanoTime();
            logger.info("generating built-in model '{}' (random weights) into {}", name, dir);
            generator.generate(tmp);
            try {
                Files.move(tmp, dir, StandardCopyOption.ATOMIC_MOVE);
                tmp = null;
                logger.info("built-in model '{}' ready in {} ms", name, (System.nanoTime() - start) / 1_000_000);
            } catch (FileAlreadyExistsException | DirectoryNotEmptyException raced) {
                logger.debug("built-in model '{}' was generated concurrently; using {}", name, dir);
            }
            return checkComplete(dir, files);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot generate built-in model '" + name + "' under " + models, e);
        } finally {
            if (tmp != null) {
                deleteQuietly(tmp);
            }
        }
    }

    static String directoryName(Spec spec) {
        return "builtin-" + spec.name() + "-v" + TEXT_VERSION;
    }

    /** A built-in diffusion pipeline's generator version: sd-tiny's bytes changed when it gained its ControlNet. */
    private static int sdVersion(String name) {
        return name.equals("sd-tiny") ? SD_TINY_VERSION : VERSION;
    }

    static Spec spec(String name) {
        Spec spec = SPECS.get(name);
        if (spec == null) {
            throw new IllegalArgumentException("unknown built-in model '" + name + "'");
        }
        return spec;
    }

    /** Writes the five files of {@code spec} into {@code dir}. */
    static void generate(Spec spec, Path dir) throws IOException {
        BpeTrainer.Vocabulary vocab = BpeTrainer.train(corpus(), TOKENIZER_VOCAB_TARGET, SPECIAL_TOKENS,
                TOKENIZER_MIN_PAIR_COUNT);
        int vocabSize = vocab.tokens().size();
        TokenizerJson.write(vocab, SPECIAL_TOKENS.get(BOS_ID), dir.resolve("tokenizer.json"));
        writeJson(dir.resolve("config.json"), config(spec, vocabSize));
        Map<String, Object> generation = new LinkedHashMap<>();
        generation.put("bos_token_id", BOS_ID);
        generation.put("eos_token_id", EOS_ID);
        writeJson(dir.resolve("generation_config.json"), generation);
        Map<String, Object> tokenizerConfig = new LinkedHashMap<>();
        tokenizerConfig.put("bos_token", SPECIAL_TOKENS.get(BOS_ID));
        tokenizerConfig.put("eos_token", SPECIAL_TOKENS.get(EOS_ID));
        tokenizerConfig.put("unk_token", SPECIAL_TOKENS.get(0));
        tokenizerConfig.put("model_max_length", spec.maxPositions());
        tokenizerConfig.put("tokenizer_class", "PreTrainedTokenizerFast");
        tokenizerConfig.put("chat_template", CHAT_TEMPLATE);
        writeJson(dir.resolve("tokenizer_config.json"), tokenizerConfig);
        SafetensorsWriter.writeF32(dir.resolve("model.safetensors"), tensors(spec, vocabSize),
                Map.of("format", "pt", "tessera", "built-in model '" + spec.name() + "': random weights"));
    }

    static String corpus() throws IOException {
        try (InputStream in = BuiltinModels.class.getResourceAsStream(CORPUS_RESOURCE)) {
            if (in == null) {
                throw new IOException("resource " + CORPUS_RESOURCE + " missing next to " + BuiltinModels.class);
            }
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
    }

    private static Map<String, Object> config(Spec spec, int vocabSize) {
        Map<String, Object> c = new LinkedHashMap<>();
        c.put("architectures", List.of("LlamaForCausalLM"));
        c.put("model_type", "llama");
        c.put("hidden_size", spec.hidden());
        c.put("intermediate_size", spec.intermediate());
        c.put("num_hidden_layers", spec.layers());
        c.put("num_attention_heads", spec.heads());
        c.put("num_key_value_heads", spec.kvHeads());
        c.put("head_dim", spec.headDim());
        c.put("hidden_act", "silu");
        c.put("max_position_embeddings", spec.maxPositions());
        c.put("rms_norm_eps", 1e-5);
        c.put("rope_theta", spec.ropeTheta());
        c.put("rope_scaling", null);
        c.put("attention_bias", false);
        c.put("mlp_bias", false);
        c.put("tie_word_embeddings", false);
        c.put("vocab_size", vocabSize);
        c.put("bos_token_id", BOS_ID);
        c.put("eos_token_id", EOS_ID);
        c.put("torch_dtype", "float32");
        c.put("tessera_builtin", Map.of(
                "name", spec.name(),
                "version", TEXT_VERSION,
                "note", "random weights from a fixed seed: generated text is gibberish"));
        return c;
    }

    /**
     * Tensors in HF Llama naming. Matrices are uniform with standard deviation 1/sqrt(fan_in) (embeddings 1), so
     * activations stay of order one through the layers and logits are neither flat nor saturated; RMSNorm weights 1.
     */
    static List<SafetensorsWriter.Tensor> tensors(Spec spec, int vocabSize) {
        int h = spec.hidden();
        int q = spec.heads() * spec.headDim();
        int kv = spec.kvHeads() * spec.headDim();
        int inter = spec.intermediate();
        long seed = spec.seed();
        List<SafetensorsWriter.Tensor> t = new ArrayList<>();
        t.add(random("model.embed_tokens.weight", seed, 1.0, vocabSize, h));
        for (int l = 0; l < spec.layers(); l++) {
            String p = "model.layers." + l + ".";
            t.add(ones(p + "input_layernorm.weight", h));
            t.add(random(p + "self_attn.q_proj.weight", seed, 1 / Math.sqrt(h), q, h));
            t.add(random(p + "self_attn.k_proj.weight", seed, 1 / Math.sqrt(h), kv, h));
            t.add(random(p + "self_attn.v_proj.weight", seed, 1 / Math.sqrt(h), kv, h));
            t.add(random(p + "self_attn.o_proj.weight", seed, 1 / Math.sqrt(q), h, q));
            t.add(ones(p + "post_attention_layernorm.weight", h));
            t.add(random(p + "mlp.gate_proj.weight", seed, 1 / Math.sqrt(h), inter, h));
            t.add(random(p + "mlp.up_proj.weight", seed, 1 / Math.sqrt(h), inter, h));
            t.add(random(p + "mlp.down_proj.weight", seed, 1 / Math.sqrt(inter), h, inter));
        }
        t.add(ones("model.norm.weight", h));
        t.add(random("lm_head.weight", seed, 1 / Math.sqrt(h), vocabSize, h));
        return t;
    }

    private static SafetensorsWriter.Tensor random(String name, long seed, double std, long rows, long cols) {
        return new SafetensorsWriter.Tensor(name, new long[] {rows, cols}, RandomWeights.withStd(seed, name, std));
    }

    private static SafetensorsWriter.Tensor ones(String name, long n) {
        return new SafetensorsWriter.Tensor(name, new long[] {n}, RandomWeights.constant(1.0f));
    }

    private static void writeJson(Path file, Object value) throws IOException {
        new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT).writeValue(file.toFile(), value);
    }

    /** Temporary directories are private; the finished model need not be. */
    private static void readableByAll(Path dir) {
        try {
            Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxr-xr-x"));
        } catch (UnsupportedOperationException | IOException e) {
            logger.debug("cannot widen permissions of {}: {}", dir, e.toString());
        }
    }

    private static Path checkComplete(Path dir, List<String> files) {
        for (String f : files) {
            if (!Files.isRegularFile(dir.resolve(f))) {
                throw new IllegalStateException("built-in model directory " + dir + " lacks " + f
                        + "; delete the directory to have it generated again");
            }
        }
        return dir;
    }

    private static void deleteQuietly(Path root) {
        try (Stream<Path> paths = Files.walk(root)) {
            paths.sorted(Comparator.reverseOrder()).forEach(p -> {
                try {
                    Files.deleteIfExists(p);
                } catch (IOException e) {
                    logger.warn("cannot delete {}: {}", p, e.toString());
                }
            });
        } catch (IOException e) {
            logger.warn("cannot clean up {}: {}", root, e.toString());
        }
    }
}
