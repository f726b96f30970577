package main

import (
	"time"

	"github.com/ai-rails/state-service/shared/config"
)

// settings are the chaos run's, read from the environment.
type settings struct {
	Phase     time.Duration // CHAOS_PHASE: how long each fault lasts
	Kills     int           // CHAOS_KILLS: kill -9 and restarts of Redis under load
	Down      time.Duration // CHAOS_DOWN: how long Redis stays down each time
	Writers   int           // CHAOS_WRITERS: workflow writers, each with its own workflows
	Approvers int           // CHAOS_APPROVERS: approval requesters, each decided by two racing approvers
	Posters   int           // CHAOS_POSTERS: result posters
	// Deadline is the longest an API call may take: the store's 2 s deadline
	// and a margin. A call that takes longer hung.
	Deadline time.Duration // CHAOS_DEADLINE
}

func readSettings(lookup func(string) (string, bool)) (settings, error) {
	e := config.NewEnv(lookup)
	s := settings{
		Phase:     e.Duration("CHAOS_PHASE", 5*time.Second),
		Kills:     e.Int("CHAOS_KILLS", 3, 0, 100),
		Down:      e.Duration("CHAOS_DOWN", 1500*time.Millisecond),
		Writers:   e.Int("CHAOS_WRITERS", 12, 1, 256),
		Approvers: e.Int("CHAOS_APPROVERS", 4, 0, 64),
		Posters:   e.Int("CHAOS_POSTERS", 4, 0, 64),
		Deadline:  e.Duration("CHAOS_DEADLINE", 3*time.Second),
	}
	return s, e.Err()
}
