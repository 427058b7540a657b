package dev.tessera.engine.text.convert;

import dev.tessera.engine.checkpoint.Checkpoint;
import dev.tessera.engine.checkpoint.CheckpointException;
import dev.tessera.engine.checkpoint.SafeTensorsWriter;
import dev.tessera.engine.text.model.ModelConfig;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A bad checkpoint fails at load time (config + headers + tensor validation, before any graph is written) with a
 * message that names the file and the tensor.
 */
class BadCheckpointTest {
    static final Path FIXTURES = Path.of("src/test/resources/fixtures");

    @TempDir
    Path tmp;

    /** What loading validates: the config, every safetensors header, every tensor the model needs. */
    static void validate(Path dir) {
        ModelConfig config = ModelConfig.load(dir);
        try (Checkpoint ck = Checkpoint.open(dir)) {
            new SegmentConverter(ck, config);
        }
    }

    Path copy(String fixture) throws IOException {
        Path dst = tmp.resolve(fixture);
        Files.createDirectories(dst);
        try (Stream<Path> files = Files.list(FIXTURES.resolve(fixture))) {
            for (Path f : files.toList()) Files.copy(f, dst.resolve(f.getFileName()));
        }
        return dst;
    }

    static void assertNames(CheckpointException e, String file, String tensor) {
        String m = e.getMessage();
        assertTrue(m.contains(file), "message should name " + file + ": " + m);
        if (tensor != null) assertTrue(m.contains(tensor), "message should name " + tensor + ": " + m);
    }

    @Test
    void fixturesAreValid() {
        assertDoesNotThrow(() -> validate(FIXTURES.resolve("llama-tied")));
        assertDoesNotThrow(() -> validate(FIXTURES.resolve("llama-gqa")));
    }

    @Test
    void missingTensor() throws IOException {
        Path dir = copy("llama-tied");
        Path st = dir.resolve("model.safetensors");
        new SafeTensorsWriter().copyFrom(st, "model.layers.1.mlp.up_proj.weight").write(st);
        CheckpointException e = assertThrows(CheckpointException.class, () -> validate(dir));
        assertNames(e, "model.safetensors", "model.layers.1.mlp.up_proj.weight");
        assertTrue(e.getMessage().contains("missing tensor"), e.getMessage());
    }

    @Test
    void missingTensorInAShard() throws IOException {
        Path dir = copy("llama-gqa");
        Path index = dir.resolve("model.safetensors.index.json");
        String json = Files.readString(index);
        // Point a tensor at a shard that does not hold it.
        String moved = json.replace("\"model.norm.weight\": \"model-00002-of-00003.safetensors\"",
                "\"model.norm.weight\": \"model-00001-of-00003.safetensors\"")
                .replace("\"model.norm.weight\": \"model-00003-of-00003.safetensors\"",
                        "\"model.norm.weight\": \"model-00001-of-00003.safetensors\"");
        Files.writeString(index, moved);
        CheckpointException e = assertThrows(CheckpointException.class, () -> validate(dir));
        assertNames(e, "model-00001-of-00003.safetensors", "model.norm.weight");
    }

    @Test
    void tensorNotListedInTheIndex() throws IOException {
        Path dir = copy("llama-gqa");
        Path index = dir.resolve("model.safetensors.index.json");
        String json = Files.readString(index).replaceAll("\\s*\"lm_head.weight\": \"[^\"]+\",", "");
        Files.writeString(index, json);
        CheckpointException e = assertThrows(CheckpointException.class, () -> validate(dir));
        assertNames(e, "model.safetensors.index.json", "lm_head.weight");
    }

    @Test
    void wrongShape() throws IOException {
        Path dir = copy("llama-tied");
        Path st = dir.resolve("model.safetensors");
        new SafeTensorsWriter().copyFrom(st, "model.layers.0.self_attn.k_proj.weight")
                .f32("model.layers.0.self_attn.k_proj.weight", new float[32 * 64], 32, 64).write(st);
        CheckpointException e = assertThrows(CheckpointException.class, () -> validate(dir));
        assertNames(e, "model.safetensors", "model.layers.0.self_attn.k_proj.weight");
        assertTrue(e.getMessage().contains("wrong shape [32, 64], expected [64, 64]"), e.getMessage());
    }

    @Test
    void unsupportedArchitecture() throws IOException {
        Path dir = copy("llama-tied");
        Path cfg = dir.resolve("config.json");
        Files.writeString(cfg, Files.readString(cfg).replace("LlamaForCausalLM", "GPT2LMHeadModel"));
        CheckpointException e = assertThrows(CheckpointException.class, () -> validate(dir));
        assertNames(e, "config.json", "GPT2LMHeadModel");
        assertTrue(e.getMessage().contains("unsupported architecture"), e.getMessage());
    }

    @Test
    void unsupportedQuantizationMethodIsRefusedNamingTheField() throws IOException {
        Path dir = copy("llama-tied");
        Path cfg = dir.resolve("config.json");
        Files.writeString(cfg, Files.readString(cfg).replaceFirst("\\{", "{\"quantization_config\": "
                + "{\"quant_method\": \"bitsandbytes\", \"load_in_4bit\": true},"));
        CheckpointException e = assertThrows(CheckpointException.class, () -> validate(dir));
        assertNames(e, "config.json", "bitsandbytes");
        assertTrue(e.getMessage().contains("quantization_config.quant_method"), e.getMessage());
    }

    @Test
    void unsupportedRopeScaling() throws IOException {
        Path dir = copy("llama-tied");
        Path cfg = dir.resolve("config.json");
        Files.writeString(cfg, Files.readString(cfg).replace("\"rope_type\": \"default\"",
                "\"rope_type\": \"yarn\", \"factor\": 4.0"));
        CheckpointException e = assertThrows(CheckpointException.class, () -> validate(dir));
        assertNames(e, "config.json", "yarn");
    }

    @Test
    void corruptHeader() throws IOException {
        Path dir = copy("llama-tied");
        Path st = dir.resolve("model.safetensors");
        byte[] all = Files.readAllBytes(st);
        ByteBuffer.wrap(all).order(ByteOrder.LITTLE_ENDIAN).putLong(0, all.length * 4L);
        Files.write(st, all);
        CheckpointException e = assertThrows(CheckpointException.class, () -> validate(dir));
        assertNames(e, "model.safetensors", null);
        assertTrue(e.getMessage().contains("corrupt safetensors header"), e.getMessage());
    }

    @Test
    void corruptTensorEntry() throws IOException {
        Path dir = copy("llama-tied");
        Path st = dir.resolve("model.safetensors");
        byte[] all = Files.readAllBytes(st);
        String s = new String(all, java.nio.charset.StandardCharsets.ISO_8859_1);
        // Same length edit: claim the norm weight is F16 while its offsets span F32 bytes.
        int at = s.indexOf("\"model.norm.weight\":{\"dtype\":\"F32\"");
        assertTrue(at >= 0, "fixture header layout changed");
        int dt = s.indexOf("F32", at);
        all[dt] = 'F';
        all[dt + 1] = '1';
        all[dt + 2] = '6';
        Files.write(st, all);
        CheckpointException e = assertThrows(CheckpointException.class, () -> validate(dir));
        assertNames(e, "model.safetensors", "model.norm.weight");
    }
}
