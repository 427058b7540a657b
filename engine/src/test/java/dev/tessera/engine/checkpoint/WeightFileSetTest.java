package dev.tessera.engine.checkpoint;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Weight files chosen as diffusers and transformers choose them when no variant is asked for. */
class WeightFileSetTest {
    @TempDir
    Path dir;

    private void weights(String file, float value) throws IOException {
        new SafeTensorsWriter().f32("conv.weight", new float[] {value, value}, 2).write(dir.resolve(file));
    }

    private float firstValue() {
        try (Checkpoint ck = Checkpoint.open(dir)) {
            return ck.readFloats(ck.tensor("conv.weight"))[0];
        }
    }

    @Test
    void plainWeightsWinOverTheirVariantsAsInStableDiffusion15() throws IOException {
        // runwayml/stable-diffusion-v1-5's unet/ holds all three; every file has the same tensor names.
        weights("diffusion_pytorch_model.safetensors", 1f);
        weights("diffusion_pytorch_model.fp16.safetensors", 2f);
        weights("diffusion_pytorch_model.non_ema.safetensors", 3f);
        assertEquals(1f, firstValue());
    }

    @Test
    void theOnlyVariantIsTakenWhenThereAreNoPlainWeights() throws IOException {
        byte[] half = {0x00, 0x3c, 0x00, 0x3c}; // 1.0 twice, fp16 little-endian
        new SafeTensorsWriter().raw("conv.weight", "F16", half, 2)
                .write(dir.resolve("diffusion_pytorch_model.fp16.safetensors"));
        try (Checkpoint ck = Checkpoint.open(dir)) {
            assertArrayEquals(new float[] {1f, 1f}, ck.readFloats(ck.tensor("conv.weight")));
        }
    }

    @Test
    void severalVariantsWithoutPlainWeightsAreRefusedNamingThem() throws IOException {
        weights("diffusion_pytorch_model.fp16.safetensors", 2f);
        weights("diffusion_pytorch_model.non_ema.safetensors", 3f);
        CheckpointException e = assertThrows(CheckpointException.class, () -> Checkpoint.open(dir).close());
        assertTrue(e.getMessage().contains("fp16") && e.getMessage().contains("non_ema"), e.getMessage());
    }

    @Test
    void aShardedPipelineComponentIsReadThroughItsIndex() throws IOException {
        new SafeTensorsWriter().f32("a", new float[] {4f}, 1)
                .write(dir.resolve("diffusion_pytorch_model-00001-of-00002.safetensors"));
        new SafeTensorsWriter().f32("b", new float[] {5f}, 1)
                .write(dir.resolve("diffusion_pytorch_model-00002-of-00002.safetensors"));
        Files.writeString(dir.resolve("diffusion_pytorch_model.safetensors.index.json"),
                "{\"weight_map\": {\"a\": \"diffusion_pytorch_model-00001-of-00002.safetensors\","
                        + " \"b\": \"diffusion_pytorch_model-00002-of-00002.safetensors\"}}");
        weights("diffusion_pytorch_model.fp16.safetensors", 2f);
        try (Checkpoint ck = Checkpoint.open(dir)) {
            assertEquals(5f, ck.readFloats(ck.tensor("b"))[0]);
            assertEquals(2, ck.files().size());
        }
    }

    @Test
    void aModelWithoutConventionalNamesStillOpensEveryFile() throws IOException {
        new SafeTensorsWriter().f32("a", new float[] {4f}, 1).write(dir.resolve("weights-a.safetensors"));
        new SafeTensorsWriter().f32("b", new float[] {5f}, 1).write(dir.resolve("weights-b.safetensors"));
        try (Checkpoint ck = Checkpoint.open(dir)) {
            assertEquals(4f, ck.readFloats(ck.tensor("a"))[0]);
            assertEquals(5f, ck.readFloats(ck.tensor("b"))[0]);
        }
    }
}
