package dev.tessera.engine.detect;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tessera.engine.checkpoint.CheckpointException;
import dev.tessera.engine.detect.model.DetrConfig;
import dev.tessera.engine.detect.model.DetrImageConfig;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.function.Consumer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class DetrConfigTest {
    private static final Path FILE = Path.of("config.json");

    @Test
    void bothBackboneKeyStylesGiveTheSameConfig() {
        // The same model: config.json in the style of facebook/detr-resnet-50 (use_timm_backbone, backbone) and
        // config.transformers5.json as transformers 5.24 writes it (backbone_config of model_type timm_backbone).
        DetrConfig legacy = DetrConfig.load(DetrFixtures.TIMM);
        DetrConfig v5 = DetrConfig.parse(FILE, DetrFixtures.json(DetrFixtures.TIMM.resolve("config.transformers5.json")));
        assertEquals(legacy, v5);
        assertEquals(DetrConfig.Layout.TIMM, legacy.backbone().layout());
        assertEquals("resnet_tessera_tiny", legacy.backbone().name());
        assertNull(legacy.backbone().depths());
        assertEquals(32, legacy.dModel());
        assertEquals(16, legacy.numQueries());
        assertEquals("person", legacy.labels().get(0));

        DetrConfig resnet = DetrConfig.load(DetrFixtures.RESNET);
        assertEquals(DetrConfig.Layout.TRANSFORMERS, resnet.backbone().layout());
        assertArrayEquals(new int[] {1, 2, 2, 1}, resnet.backbone().depths());
    }

    @Test
    void publishedDefaultsAreResnet50() {
        ObjectNode c = new ObjectMapper().createObjectNode().put("model_type", "detr");
        DetrConfig config = DetrConfig.parse(FILE, c);
        assertEquals(new DetrConfig.Backbone(DetrConfig.Layout.TIMM, "resnet50", null), config.backbone());
        assertEquals(256, config.dModel());
        assertEquals(100, config.numQueries());
        c.put("use_timm_backbone", false);
        assertArrayEquals(new int[] {3, 4, 6, 3}, DetrConfig.parse(FILE, c).backbone().depths());
    }

    @Test
    void unsupportedOptionsAreRefusedNamingTheFile() {
        refused(c -> c.put("dilation", true), "dilation");
        refused(c -> c.put("position_embedding_type", "learned"), "position_embedding_type");
        refused(c -> c.put("activation_function", "gelu"), "activation_function");
        refused(c -> c.put("model_type", "conditional_detr"), "model_type");
        refused(c -> c.putArray("architectures").add("DetrForSegmentation"), "architectures");
        refused(c -> c.put("num_channels", 1), "num_channels");
        refused(c -> c.put("encoder_attention_heads", 7), "multiple");
        refused(c -> ((ObjectNode) c.get("backbone_config")).put("output_stride", 16), "output_stride");
        refused(c -> ((ObjectNode) c.get("backbone_config")).putArray("out_indices").add(1).add(2).add(3),
                "out_indices");
        refused(c -> ((ObjectNode) c.get("backbone_config")).put("model_type", "swin"), "model_type");
        refused(c -> c.set("backbone_config", new ObjectMapper().createObjectNode().put("model_type", "resnet")
                .put("layer_type", "basic")), "layer_type");
        refused(c -> c.set("backbone_config", new ObjectMapper().createObjectNode().put("model_type", "resnet")
                .put("downsample_in_bottleneck", true)), "downsample_in_bottleneck");
        refused(c -> c.putObject("id2label").put("0", "a").put("2", "b"), "id2label");
    }

    @Test
    void preprocessorConfigIsRead() {
        DetrImageConfig c = DetrImageConfig.load(DetrFixtures.IMAGES);
        assertEquals(128, c.shortestEdge());
        assertEquals(200, c.longestEdge());
        assertTrue(c.doRescale() && c.doNormalize());
        assertArrayEquals(new int[] {128, 200}, c.maxFrameEdges());
        ObjectNode legacy = new ObjectMapper().createObjectNode().put("size", 800).put("max_size", 1333);
        assertEquals(1333, DetrImageConfig.parse(FILE, legacy).longestEdge());
        ObjectNode nearest = new ObjectMapper().createObjectNode().put("resample", 0);
        CheckpointException e = assertThrows(CheckpointException.class, () -> DetrImageConfig.parse(FILE, nearest));
        assertTrue(e.getMessage().contains("resample"), e.getMessage());
    }

    private static void refused(Consumer<ObjectNode> change, String mentions) {
        ObjectNode c = (ObjectNode) DetrFixtures.json(DetrFixtures.TIMM.resolve("config.transformers5.json"))
                .deepCopy();
        change.accept(c);
        CheckpointException e = assertThrows(CheckpointException.class, () -> DetrConfig.parse(FILE, (JsonNode) c));
        assertEquals(FILE, e.file());
        assertTrue(e.getMessage().contains(mentions), e.getMessage());
    }
}
