package dev.tessera.engine.diffusion.clip;

import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tessera.engine.checkpoint.CheckpointException;
import dev.tessera.engine.diffusion.DiffusersLayout;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * CLIP's tokenizer, built from a pipeline's classic {@code tokenizer/vocab.json} and {@code merges.txt} and run by the
 * Hugging Face tokenizers library (the one the text path uses). The library's JSON definition is assembled here
 * exactly as transformers 5's {@code CLIPTokenizer} assembles it: NFC, whitespace runs to one space, lower case; the
 * CLIP split regex then byte-level; BPE with the {@code </w>} end-of-word suffix. {@link #encode} then does what
 * {@code tokenizer(prompt, padding="max_length", truncation=True)} does: at most {@code maxLength − 2} tokens between
 * {@code <|startoftext|>} and {@code <|endoftext|>}, padded with the pad token to {@code maxLength}
 * ({@code model_max_length}, 77).
 *
 * <p>Thread-safe. Owns the native tokenizer: {@link #close()} it.
 */
public final class ClipTokenizer implements AutoCloseable {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String SPLIT = "<\\|startoftext\\|>|<\\|endoftext\\|>|'s|'t|'re|'ve|'m|'ll|'d|[\\p{L}]+"
            + "|[\\p{N}]|[^\\s\\p{L}\\p{N}]+";

    private final HuggingFaceTokenizer delegate;
    private final int bos;
    private final int eos;
    private final int pad;
    private final int maxLength;

    private ClipTokenizer(HuggingFaceTokenizer delegate, int bos, int eos, int pad, int maxLength) {
        this.delegate = delegate;
        this.bos = bos;
        this.eos = eos;
        this.pad = pad;
        this.maxLength = maxLength;
    }

    /** Loads {@code dir/vocab.json}, {@code dir/merges.txt} and the special tokens of {@code tokenizer_config.json}. */
    public static ClipTokenizer load(Path dir) {
        Objects.requireNonNull(dir, "dir");
        Path vocabFile = dir.resolve("vocab.json");
        Path mergesFile = dir.resolve("merges.txt");
        Path configFile = dir.resolve("tokenizer_config.json");
        JsonNode vocab = DiffusersLayout.readJson(vocabFile);
        JsonNode config = DiffusersLayout.readJson(configFile);
        JsonNode specials = Files.isRegularFile(dir.resolve("special_tokens_map.json"))
                ? DiffusersLayout.readJson(dir.resolve("special_tokens_map.json")) : JSON.createObjectNode();
        String bosToken = special(config, specials, "bos_token", "<|startoftext|>");
        String eosToken = special(config, specials, "eos_token", "<|endoftext|>");
        String unkToken = special(config, specials, "unk_token", "<|endoftext|>");
        String padToken = special(config, specials, "pad_token", "<|endoftext|>");
        int maxLength = config.path("model_max_length").asInt(77);
        if (maxLength < 2 || maxLength > 4096) {
            throw new CheckpointException(configFile, null, "model_max_length " + maxLength + " out of range");
        }
        int bos = id(vocab, bosToken, vocabFile);
        int eos = id(vocab, eosToken, vocabFile);
        int pad = id(vocab, padToken, vocabFile);
        id(vocab, unkToken, vocabFile);
        List<String> merges;
        try {
            merges = Files.readAllLines(mergesFile, StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new CheckpointException(mergesFile, null, "cannot read: " + e.getMessage(), e);
        }
        ObjectNode definition = definition(vocab, merges, mergesFile, bosToken, bos, eosToken, eos, unkToken);
        HuggingFaceTokenizer tokenizer;
        try {
            System.setProperty("ai.djl.offline", System.getProperty("ai.djl.offline", "true"));
            System.setProperty("OPT_OUT_TRACKING", System.getProperty("OPT_OUT_TRACKING", "true"));
            tokenizer = HuggingFaceTokenizer.newInstance(new ByteArrayInputStream(JSON.writeValueAsBytes(definition)),
                    Map.of("addSpecialTokens", "false", "truncation", "false", "padding", "false",
                            "withOverflowingTokens", "false"));
        } catch (IOException | RuntimeException e) {
            throw new CheckpointException(vocabFile, null, "rejected by the tokenizers library: " + e.getMessage(), e);
        }
        return new ClipTokenizer(tokenizer, bos, eos, pad, maxLength);
    }

    /** The ids CLIPTokenizer gives with {@code padding="max_length", truncation=True}: always {@link #maxLength()}. */
    public int[] encode(String prompt) {
        Objects.requireNonNull(prompt, "prompt");
        long[] body = delegate.encode(prompt, false, false).getIds();
        int n = Math.min(body.length, maxLength - 2);
        int[] ids = new int[maxLength];
        ids[0] = bos;
        for (int i = 0; i < n; i++) ids[i + 1] = Math.toIntExact(body[i]);
        ids[n + 1] = eos;
        for (int i = n + 2; i < maxLength; i++) ids[i] = pad;
        return ids;
    }

    /** Tokens per prompt, specials and padding included ({@code model_max_length}). */
    public int maxLength() {
        return maxLength;
    }

    @Override
    public void close() {
        delegate.close();
    }

    private static ObjectNode definition(JsonNode vocab, List<String> mergeLines, Path mergesFile, String bosToken,
                                         int bos, String eosToken, int eos, String unkToken) {
        ObjectNode root = JSON.createObjectNode();
        root.put("version", "1.0");
        root.putNull("truncation");
        root.putNull("padding");
        ArrayNode added = root.putArray("added_tokens");
        for (Object[] t : new Object[][] {{bos, bosToken}, {eos, eosToken}}) {
            ObjectNode a = added.addObject();
            a.put("id", (int) t[0]).put("content", (String) t[1]).put("single_word", false).put("lstrip", false)
                    .put("rstrip", false).put("normalized", false).put("special", true);
        }
        ObjectNode normalizer = root.putObject("normalizer").put("type", "Sequence");
        ArrayNode norms = normalizer.putArray("normalizers");
        norms.addObject().put("type", "NFC");
        ObjectNode replace = norms.addObject().put("type", "Replace");
        replace.putObject("pattern").put("Regex", "\\s+");
        replace.put("content", " ");
        norms.addObject().put("type", "Lowercase");
        ObjectNode pre = root.putObject("pre_tokenizer").put("type", "Sequence");
        ArrayNode pres = pre.putArray("pretokenizers");
        ObjectNode split = pres.addObject().put("type", "Split");
        split.putObject("pattern").put("Regex", SPLIT);
        split.put("behavior", "Removed").put("invert", true);
        pres.addObject().put("type", "ByteLevel").put("add_prefix_space", false).put("trim_offsets", true)
                .put("use_regex", true);
        root.putNull("post_processor");
        root.putObject("decoder").put("type", "ByteLevel").put("add_prefix_space", true).put("trim_offsets", true)
                .put("use_regex", true);
        ObjectNode model = root.putObject("model").put("type", "BPE");
        model.putNull("dropout");
        model.put("unk_token", unkToken).put("continuing_subword_prefix", "").put("end_of_word_suffix", "</w>")
                .put("fuse_unk", false).put("byte_fallback", false).put("ignore_merges", false);
        model.set("vocab", vocab);
        ArrayNode merges = model.putArray("merges");
        int line = 0;
        for (String m : mergeLines) {
            line++;
            if ((line == 1 && m.startsWith("#version")) || m.isBlank()) continue;
            String[] parts = m.split(" ");
            if (parts.length != 2) {
                throw new CheckpointException(mergesFile, null, "line " + line + " is not two tokens: '" + m + "'");
            }
            merges.addArray().add(parts[0]).add(parts[1]);
        }
        return root;
    }

    private static String special(JsonNode config, JsonNode map, String key, String dflt) {
        JsonNode n = config.has(key) && !config.get(key).isNull() ? config.get(key) : map.get(key);
        if (n == null || n.isNull()) return dflt;
        return n.isObject() ? n.path("content").asText(dflt) : n.asText(dflt);
    }

    private static int id(JsonNode vocab, String token, Path vocabFile) {
        JsonNode n = vocab.get(token);
        if (n == null || !n.canConvertToInt()) {
            throw new CheckpointException(vocabFile, null, "special token '" + token + "' is not in the vocabulary");
        }
        return n.asInt();
    }
}
