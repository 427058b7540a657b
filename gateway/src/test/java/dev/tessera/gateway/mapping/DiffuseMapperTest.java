package dev.tessera.gateway.mapping;

import dev.tessera.api.v1.DiffuseResponse;
import dev.tessera.api.v1.ImageFormat;
import dev.tessera.api.v1.Sampler;
import dev.tessera.scheduler.core.JobEvent;
import dev.tessera.scheduler.diffuse.DiffuseRequest;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

class DiffuseMapperTest {
    @Test
    void unsetOptionalFieldsStayUnsetAndSetOnesCarryOver() {
        DiffuseRequest empty = DiffuseMapper.toDomain(dev.tessera.api.v1.DiffuseRequest.newBuilder()
                .setPrompt("a fox").build());
        assertEquals("a fox", empty.prompt());
        assertNull(empty.width());
        assertNull(empty.steps());
        assertNull(empty.guidanceScale());
        assertNull(empty.sampler());
        assertNull(empty.seed());
        assertNull(empty.numImages());
        assertNull(empty.initImage());
        assertNull(empty.controlImage());
        assertNull(empty.controlScale());
        DiffuseRequest full = DiffuseMapper.toDomain(dev.tessera.api.v1.DiffuseRequest.newBuilder()
                .setModel("sd").setPrompt("p").setNegativePrompt("n").setWidth(512).setHeight(768).setSteps(20)
                .setGuidanceScale(0f).setSampler(Sampler.SAMPLER_DPM_SOLVER_PP_2M).setSeed(-1L).setPreviewEvery(5)
                .setNumImages(2).setStrength(0.5f).setControlScale(0.25f)
                .setControlImage(dev.tessera.api.v1.Image.newBuilder().setData(com.google.protobuf.ByteString
                        .copyFrom(new byte[] {7, 8, 9})).setFormat(ImageFormat.IMAGE_FORMAT_RGB8).setWidth(1)
                        .setHeight(1)).build());
        assertEquals(0.25f, full.controlScale());
        assertEquals(3, full.controlImage().data().length);
        assertEquals(1, full.controlImage().width());
        assertEquals(512, full.width());
        assertEquals(768, full.height());
        assertEquals(0f, full.guidanceScale());
        assertEquals("dpmpp_2m", full.sampler());
        assertEquals(-1L, full.seed(), "uint64 seeds keep their 64 bits");
        assertEquals(5, full.previewEvery());
        assertEquals(0.5f, full.strength());
        assertEquals(Integer.MAX_VALUE, DiffuseMapper.toDomain(dev.tessera.api.v1.DiffuseRequest.newBuilder()
                .setPrompt("p").setSteps(-2).build()).steps(), "a uint32 past 2^31 stays out of range");
    }

    @Test
    void eventsMapToTheirResponses() {
        JobEvent.EncodedImage png = new JobEvent.EncodedImage(new byte[] {1, 2}, "image/png", 64, 32);
        DiffuseResponse image = DiffuseMapper.response(new JobEvent.Image(1, png, 99L));
        assertTrue(image.hasImage());
        assertEquals(99L, image.getImage().getSeed());
        assertEquals(ImageFormat.IMAGE_FORMAT_PNG, image.getImage().getImage().getFormat());
        assertEquals(64, image.getImage().getImage().getWidth());
        JobEvent.EncodedImage jpeg = new JobEvent.EncodedImage(new byte[] {3}, "image/jpeg", 8, 4);
        DiffuseResponse preview = DiffuseMapper.response(new JobEvent.Preview(0, 3, 10, jpeg));
        assertEquals(3, preview.getPreview().getStep());
        assertEquals(ImageFormat.IMAGE_FORMAT_JPEG, preview.getPreview().getImage().getFormat());
        assertTrue(DiffuseMapper.response(new JobEvent.Finished(0, JobEvent.FinishReason.STOP,
                new JobEvent.Usage(0, 10, 0), new JobEvent.Timings(1, 2, 3, new double[0]))).hasFinished());
    }
}
