package dev.tessera.engine.text.tokenizer;

import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Iterator;
import java.util.Map;
import java.util.Objects;
import java.util.OptionalInt;
import java.util.concurrent.locks.ReentrantReadWriteLock;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A Hugging Face {@code tokenizer.json} run by the real tokenizers library (Rust, through DJL's JNI binding).
 *
 * <p>Loading is offline: the JSON is read from disk, DJL's native library comes from its jar, and DJL's
 * call-home/telemetry is switched off (system properties {@code ai.djl.offline} and {@code OPT_OUT_TRACKING} are set
 * to {@code true} unless already set). Truncation and padding are disabled, so {@link #encode} returns every token of
 * the text exactly as {@code tokenizers.Tokenizer.encode} does in Python (DJL otherwise truncates at 512).
 *
 * <p>Thread-safe: encode and decode may run concurrently; {@link #close()} waits for them and releases the native
 * tokenizer once. This object is the single owner of that native handle.
 */
public final class HfTokenizer implements Tokenizer {
    private static final Logger logger = LoggerFactory.getLogger(HfTokenizer.class);
    private static final ObjectMapper JSON = new ObjectMapper();

    private final HuggingFaceTokenizer delegate;
    private final int maxTokenBytes;
    private final Map<String, Integer> tokenIds;
    private final int vocabSize;
    private final Path source;
    private final ReentrantReadWriteLock lock = new ReentrantReadWriteLock();
    private boolean closed;

    private HfTokenizer(HuggingFaceTokenizer delegate, Map<String, Integer> tokenIds, int vocabSize, int maxTokenBytes,
                        Path source) {
        this.maxTokenBytes = maxTokenBytes;
        this.delegate = delegate;
        this.tokenIds = tokenIds;
        this.vocabSize = vocabSize;
        this.source = source;
    }

    /**
     * Loads {@code tokenizer.json} (or the {@code tokenizer.json} inside a checkpoint directory).
     *
     * @throws UncheckedIOException when the file cannot be read
     * @throws IllegalArgumentException when the file is not a tokenizer the library accepts; the message names it
     */
    public static HfTokenizer load(Path tokenizerJson) {
        Objects.requireNonNull(tokenizerJson, "tokenizerJson");
        Path file = Files.isDirectory(tokenizerJson) ? tokenizerJson.resolve("tokenizer.json") : tokenizerJson;
        if (!Files.isRegularFile(file)) {
            throw new IllegalArgumentException("tokenizer file not found: " + file);
        }
        stayOffline();
        JsonNode root;
        try {
            root = JSON.readTree(file.toFile());
        } catch (IOException e) {
            throw new IllegalArgumentException(file + ": not valid JSON: " + e.getMessage(), e);
        }
        Map<String, Integer> ids = readTokenIds(root, file);
        int maxId = -1;
        for (int id : ids.values()) {
            maxId = Math.max(maxId, id);
        }
        HuggingFaceTokenizer tokenizer;
        try {
            tokenizer = HuggingFaceTokenizer.newInstance(file, Map.of(
                    "addSpecialTokens", "true",
                    "truncation", "false",
                    "padding", "false",
                    "withOverflowingTokens", "false"));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + file, e);
        } catch (RuntimeException e) {
            throw new IllegalArgumentException(file + ": rejected by the tokenizers library: " + e.getMessage(), e);
        }
        logger.debug("loaded tokenizer {} ({} tokens)", file, maxId + 1);
        return new HfTokenizer(tokenizer, Map.copyOf(ids), maxId + 1, TokenBytes.maxTokenBytes(root, ids), file);
    }

    @Override
    public int[] encode(String text, boolean addSpecialTokens) {
        Objects.requireNonNull(text, "text");
        long[] ids;
        lock.readLock().lock();
        try {
            checkOpen();
            ids = delegate.encode(text, addSpecialTokens, false).getIds();
        } finally {
            lock.readLock().unlock();
        }
        int[] out = new int[ids.length];
        for (int i = 0; i < ids.length; i++) {
            out[i] = (int) ids[i];
        }
        return out;
    }

    /**
     * {@inheritDoc}
     *
     * <p>Ids the tokenizer does not know (a model's embedding table is often padded past the tokenizer's vocabulary)
     * decode to nothing, as in Hugging Face's tokenizers.
     *
     * @throws IllegalArgumentException for a negative id
     */
    @Override
    public String decode(int[] ids, boolean skipSpecialTokens) {
        Objects.requireNonNull(ids, "ids");
        long[] wide = new long[ids.length];
        for (int i = 0; i < ids.length; i++) {
            int id = ids[i];
            if (id < 0) {
                throw new IllegalArgumentException("negative token id " + id);
            }
            wide[i] = id;
        }
        lock.readLock().lock();
        try {
            checkOpen();
            return delegate.decode(wide, skipSpecialTokens);
        } finally {
            lock.readLock().unlock();
        }
    }

    /** Number of ids: one more than the largest id in the vocabulary or the added tokens. */
    @Override
    public int vocabSize() {
        return vocabSize;
    }

    /** {@inheritDoc} Read from the file's pipeline and vocabulary at load ({@link TokenBytes}). */
    @Override
    public int maxTokenBytes() {
        return maxTokenBytes;
    }

    /** The id of a vocabulary entry or added token by its exact string (e.g. {@code "</s>"}), if present. */
    public OptionalInt tokenId(String token) {
        Integer id = tokenIds.get(token);
        return id == null ? OptionalInt.empty() : OptionalInt.of(id);
    }

    /** The file this tokenizer was loaded from. */
    public Path source() {
        return source;
    }

    @Override
    public void close() {
        lock.writeLock().lock();
        try {
            if (!closed) {
                closed = true;
                delegate.close();
            }
        } finally {
            lock.writeLock().unlock();
        }
    }

    private void checkOpen() {
        if (closed) {
            throw new IllegalStateException("tokenizer " + source + " is closed");
        }
    }

    private static Map<String, Integer> readTokenIds(JsonNode root, Path file) {
        Map<String, Integer> ids = new HashMap<>();
        JsonNode vocab = root.path("model").path("vocab");
        if (vocab.isObject()) {
            for (Iterator<Map.Entry<String, JsonNode>> it = vocab.fields(); it.hasNext(); ) {
                Map.Entry<String, JsonNode> e = it.next();
                ids.put(e.getKey(), e.getValue().asInt());
            }
        } else if (vocab.isArray()) { // Unigram: [[piece, score], ...], id = position
            for (int i = 0; i < vocab.size(); i++) {
                ids.put(vocab.get(i).path(0).asText(), i);
            }
        }
        for (JsonNode added : root.path("added_tokens")) {
            ids.put(added.path("content").asText(), added.path("id").asInt());
        }
        if (ids.isEmpty()) {
            throw new IllegalArgumentException(file + ": no model.vocab and no added_tokens");
        }
        return ids;
    }

    /** DJL contacts EC2 metadata and a telemetry endpoint unless told not to; this server must never do that. */
    private static void stayOffline() {
        if (System.getProperty("ai.djl.offline") == null) {
            System.setProperty("ai.djl.offline", "true");
        }
        if (System.getProperty("OPT_OUT_TRACKING") == null) {
            System.setProperty("OPT_OUT_TRACKING", "true");
        }
    }
}
