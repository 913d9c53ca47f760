package teams

// Customers maps customer ids and phone numbers to markets.
//
// PLACEHOLDER until the compact index lands: a plain map version with the final API.
type Customers struct {
	market map[string]string
	phone  map[string]string
}

// NewCustomers returns an empty directory.
func NewCustomers() *Customers {
	return &Customers{market: map[string]string{}, phone: map[string]string{}}
}

// Add records a customer's market and one of its phones (E.164, may be empty).
func (c *Customers) Add(customerID, market, phone string) {
	c.market[customerID] = market
	if phone != "" {
		c.phone[phone] = customerID
	}
}

// Len is the number of customers.
func (c *Customers) Len() int { return len(c.market) }

// MarketOf returns the market of a customer id.
func (c *Customers) MarketOf(customerID string) (string, bool) {
	if c == nil {
		return "", false
	}
	m, ok := c.market[customerID]
	return m, ok
}

// ByPhone returns the customer who owns an E.164 phone number, and that customer's market.
func (c *Customers) ByPhone(e164 string) (customerID, market string, ok bool) {
	if c == nil {
		return "", "", false
	}
	id, ok := c.phone[e164]
	if !ok {
		return "", "", false
	}
	return id, c.market[id], true
}
