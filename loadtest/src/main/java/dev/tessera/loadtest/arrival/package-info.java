/** When a load run sends: Poisson or gamma (bursty) inter-arrival gaps at a request rate, from a seeded RNG. */
@NullMarked
package dev.tessera.loadtest.arrival;

import org.jspecify.annotations.NullMarked;
