//go:build !race

package app

// collectorsRace shortens the tail test under the race detector.
const collectorsRace = false
