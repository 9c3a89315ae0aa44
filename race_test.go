//go:build race

package gatehouse_test

// raceEnabled is set under -race, whose sync.Pool drops items at random: allocation counts vary.
const raceEnabled = true
