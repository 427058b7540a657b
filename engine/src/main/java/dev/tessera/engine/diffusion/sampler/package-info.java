/**
 * Samplers equal to diffusers' schedulers, step by step, with torch's CPU {@code randn} for seeded noise.
 */
@NullMarked
package dev.tessera.engine.diffusion.sampler;

import org.jspecify.annotations.NullMarked;
