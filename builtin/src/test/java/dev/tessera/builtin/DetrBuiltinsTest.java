package dev.tessera.builtin;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The built-in DETR detectors are regular Hugging Face checkpoint directories, made deterministically. */
class DetrBuiltinsTest {
    @TempDir
    Path cache;

    @Test
    void detrTinyIsACompleteCheckpointDirectoryReachableThroughModelRef() throws Exception {
        Path dir = new ModelRef("builtin:detr-tiny").resolve(cache);
        assertEquals(cache.resolve("models").resolve("builtin-detr-tiny-v1"), dir);
        for (String f : DetrBuiltins.FILES) assertTrue(Files.isRegularFile(dir.resolve(f)), f);
        JsonNode config = new ObjectMapper().readTree(dir.resolve("config.json").toFile());
        assertEquals("DetrForObjectDetection", config.get("architectures").get(0).asText());
        assertEquals("resnet", config.get("backbone_config").get("model_type").asText());
        assertEquals(91, config.get("id2label").size());
        assertEquals("person", config.get("id2label").get("1").asText());
        assertTrue(config.get("tessera_builtin").get("note").asText().contains("meaningless"));
        JsonNode pre = new ObjectMapper().readTree(dir.resolve("preprocessor_config.json").toFile());
        assertEquals(160, pre.get("size").get("shortest_edge").asInt());
        assertEquals(256, pre.get("size").get("longest_edge").asInt());
        assertEquals(dir, BuiltinModels.materialize("detr-tiny", cache), "reused");
        assertTrue(BuiltinModels.isBuiltin("detr-tiny") && BuiltinModels.isDetector("detr-bench"));
        assertFalse(BuiltinModels.isDetector("tiny"));
        assertTrue(BuiltinModels.names().containsAll(Set.of("tiny", "bench", "detr-tiny", "detr-bench")));
    }

    @Test
    void generationIsDeterministic(@TempDir Path other) throws Exception {
        Path a = BuiltinModels.materialize("detr-tiny", cache);
        Path b = BuiltinModels.materialize("detr-tiny", other);
        for (String f : DetrBuiltins.FILES) {
            assertArrayEquals(Files.readAllBytes(a.resolve(f)), Files.readAllBytes(b.resolve(f)), f);
        }
    }

    @Test
    void benchHasTheShapeOfFacebookDetrResnet50() {
        DetrBuiltins.Spec spec = DetrBuiltins.SPECS.get("detr-bench");
        long params = 0;
        Set<String> names = new HashSet<>();
        for (SafetensorsWriter.Tensor t : DetrBuiltins.tensors(spec)) {
            long n = 1;
            for (long d : t.shape()) n *= d;
            if (!t.name().contains("running_")) params += n;
            names.add(t.name());
        }
        // facebook/detr-resnet-50: 41.3M parameters (frozen BatchNorm statistics not counted).
        assertTrue(params > 41_000_000 && params < 41_700_000, "parameters " + params);
        assertTrue(names.contains("model.backbone.conv_encoder.model.layer3.5.conv3.weight"));
        assertFalse(names.contains("model.backbone.conv_encoder.model.layer3.6.conv1.weight"));
        assertTrue(names.contains("model.backbone.conv_encoder.model.layer1.0.downsample.0.weight"));
        assertTrue(names.contains("model.decoder.layers.5.encoder_attn.out_proj.weight"));
        assertTrue(names.contains("class_labels_classifier.weight"));
        assertEquals(320, spec.shortestEdge());
        assertEquals(512, spec.longestEdge());
        assertEquals(100, spec.queries());
    }
}
