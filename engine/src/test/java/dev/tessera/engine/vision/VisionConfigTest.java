package dev.tessera.engine.vision;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tessera.engine.checkpoint.CheckpointException;
import dev.tessera.engine.text.TextEngine;
import dev.tessera.engine.text.TextEngineOptions;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.function.Consumer;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The vision side of Qwen-VL configs: what is served, what is refused at load and how the message names it. */
class VisionConfigTest {
    static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path dir;

    @Test
    void qwen3VlIsServedWithItsPositionTableAndDeepStack() {
        VisionConfig c = VisionConfig.load(Qwen3VlConformanceTest.FIXTURE);
        assertTrue(VisionConfig.ARCHITECTURES.contains("Qwen3VLForConditionalGeneration"));
        assertFalse(VisionConfig.REFUSED.contains("Qwen3VLForConditionalGeneration"));
        assertNotNull(c.qwen3());
        assertEquals(36, c.qwen3().numPositionEmbeddings());
        assertEquals(6, c.qwen3().side());
        assertArrayEquals(new int[] {1, 2}, c.qwen3().deepstackIndexes());
        assertEquals(0, c.qwen3().deepstackOf(1));
        assertEquals(-1, c.qwen3().deepstackOf(0));
        assertEquals(32, c.embedDim(), "Qwen3-VL's hidden_size is the tower's width");
        assertEquals(64, c.outHidden());
        assertEquals(16, c.patchSize());
        assertEquals("gelu_pytorch_tanh", c.hiddenAct());
        assertEquals(3, c.featureSets());
        assertEquals(3 * 64, c.embeddingWidth());
    }

    @Test
    void qwen25VlIsRefusedNamingWhatIsMissing() throws IOException {
        Path d = copyWithConfig(c -> c.putArray("architectures").add("Qwen2_5_VLForConditionalGeneration"));
        CheckpointException e = assertThrows(CheckpointException.class, () -> VisionConfig.load(d));
        assertTrue(e.getMessage().contains("windowed attention"), e.getMessage());
    }

    @Test
    void badQwen3VisionConfigsAreRefusedNamingTheField() throws IOException {
        Path outOfRange = copyWithConfig(c -> ((ObjectNode) c.get("vision_config"))
                .putArray("deepstack_visual_indexes").add(1).add(3));
        CheckpointException e = assertThrows(CheckpointException.class, () -> VisionConfig.load(outOfRange));
        assertTrue(e.getMessage().contains("deepstack_visual_indexes"), e.getMessage());
        Path notSquare = copyWithConfig(c -> ((ObjectNode) c.get("vision_config")).put("num_position_embeddings", 35));
        e = assertThrows(CheckpointException.class, () -> VisionConfig.load(notSquare));
        assertTrue(e.getMessage().contains("num_position_embeddings"), e.getMessage());
        Path width = copyWithConfig(c -> ((ObjectNode) c.get("vision_config")).put("out_hidden_size", 32));
        e = assertThrows(CheckpointException.class, () -> VisionConfig.load(width));
        assertTrue(e.getMessage().contains("out_hidden_size"), e.getMessage());
    }

    @Test
    void moreDeepStackLayersThanTheDecoderCanTakeAreRefusedAtLoad() throws IOException {
        // three DeepStack features for a 3-layer decoder: the last layer's output is never a segment boundary
        Path d = copyWithConfig(c -> {
            ArrayNode ds = ((ObjectNode) c.get("vision_config")).putArray("deepstack_visual_indexes");
            ds.add(0).add(1).add(2);
        });
        CheckpointException e = assertThrows(CheckpointException.class, () -> TextEngine.load(
                TextEngineOptions.defaults(d).withCacheDir(dir.resolve("cache")).withThreads(1)
                        .withKvMemoryBytes(1L << 20)));
        assertTrue(e.getMessage().contains("DeepStack"), e.getMessage());
    }

    @Test
    void aPreprocessorConfigWhosePatchSizeDiffersFromTheTowersIsRefused() throws IOException {
        Path d = copyWithConfig(c -> { });
        Path pre = d.resolve(ImageProcessorConfig.FILE);
        ObjectNode p = (ObjectNode) JSON.readTree(pre.toFile());
        p.put("patch_size", 14);
        Files.writeString(pre, p.toString());
        CheckpointException e = assertThrows(CheckpointException.class, () -> TextEngine.load(
                TextEngineOptions.defaults(d).withCacheDir(dir.resolve("cache")).withThreads(1)
                        .withKvMemoryBytes(1L << 20)));
        assertTrue(e.getMessage().contains("patch_size"), e.getMessage());
    }

    /** A copy of the Qwen3-VL fixture with {@code edit} applied to its {@code config.json}. */
    Path copyWithConfig(Consumer<ObjectNode> edit) throws IOException {
        Path d = Files.createTempDirectory(dir, "ckpt");
        try (Stream<Path> files = Files.list(Qwen3VlConformanceTest.FIXTURE)) {
            for (Path f : (Iterable<Path>) files::iterator) {
                String name = f.getFileName().toString();
                if (name.endsWith(".bin") || name.equals("golden.json")) continue;
                Files.copy(f, d.resolve(name));
            }
        }
        ObjectNode config = (ObjectNode) JSON.readTree(d.resolve("config.json").toFile());
        edit.accept(config);
        Files.writeString(d.resolve("config.json"), config.toString());
        return d;
    }
}
