package credential

// EntitySet is a set of interned authorized-entity ids, built once and read
// on every request: an open-addressing hash table at most half full, so that
// a lookup is one or two probes whatever the number of entities. The zero
// value is the empty set.
type EntitySet struct {
	slots []uint32 // id+1, 0 for an empty slot
}

// NewEntitySet returns the set of ids.
func NewEntitySet(ids []uint32) EntitySet {
	if len(ids) == 0 {
		return EntitySet{}
	}
	n := 2
	for n < 2*len(ids) {
		n <<= 1
	}
	s := EntitySet{slots: make([]uint32, n)}
	for _, id := range ids {
		for i := s.home(id); ; i = (i + 1) & (n - 1) {
			if s.slots[i] == 0 || s.slots[i] == id+1 {
				s.slots[i] = id + 1
				break
			}
		}
	}
	return s
}

func (s EntitySet) home(id uint32) int {
	return int((id+1)*2654435769>>7) & (len(s.slots) - 1) // Fibonacci hashing
}

// Has reports whether id is in the set.
func (s EntitySet) Has(id uint32) bool {
	n := len(s.slots)
	if n == 0 {
		return false
	}
	for i := s.home(id); ; i = (i + 1) & (n - 1) {
		switch s.slots[i] {
		case id + 1:
			return true
		case 0:
			return false
		}
	}
}

// Len returns the number of ids in the set.
func (s EntitySet) Len() int {
	n := 0
	for _, v := range s.slots {
		if v != 0 {
			n++
		}
	}
	return n
}
