package auth

// Rule says which roles may call a method at all. Whether a role may touch
// a particular resource is decided by the service against the Scope.
type Rule struct {
	Roles []Role
	// Public methods need no key (health checks).
	Public bool
}

// Allows reports whether role r may call the method.
func (rule Rule) Allows(r Role) bool {
	for _, x := range rule.Roles {
		if x == r {
			return true
		}
	}
	return false
}

var (
	everyone  = []Role{RoleDebtor, RoleCreditor, RolePortal, RoleRegulator, RoleAdmin}
	debtors   = []Role{RoleDebtor, RoleAdmin}
	bothSides = []Role{RoleDebtor, RoleCreditor, RolePortal, RoleAdmin}
	creditors = []Role{RoleCreditor, RolePortal, RoleAdmin}
	admins    = []Role{RoleAdmin}
)

// Rules is the access table of every RPC, by full method name. A method
// missing here is refused: new methods must be given a rule to be callable.
var Rules = map[string]Rule{
	"/arrears.v1.LedgerService/CreateParty":          {Roles: admins},
	"/arrears.v1.LedgerService/GetParty":             {Roles: everyone},
	"/arrears.v1.LedgerService/ListParties":          {Roles: everyone},
	"/arrears.v1.LedgerService/UpdateParty":          {Roles: admins},
	"/arrears.v1.LedgerService/CreateInvoice":        {Roles: debtors},
	"/arrears.v1.LedgerService/GetInvoice":           {Roles: everyone},
	"/arrears.v1.LedgerService/ListInvoices":         {Roles: everyone},
	"/arrears.v1.LedgerService/UpdateInvoice":        {Roles: debtors},
	"/arrears.v1.LedgerService/CancelInvoice":        {Roles: debtors},
	"/arrears.v1.LedgerService/CreateCreditNote":     {Roles: bothSides},
	"/arrears.v1.LedgerService/GetCreditNote":        {Roles: everyone},
	"/arrears.v1.LedgerService/ListCreditNotes":      {Roles: everyone},
	"/arrears.v1.LedgerService/RecordPayment":        {Roles: debtors},
	"/arrears.v1.LedgerService/GetPayment":           {Roles: everyone},
	"/arrears.v1.LedgerService/ListPayments":         {Roles: everyone},
	"/arrears.v1.LedgerService/ReversePayment":       {Roles: debtors},
	"/arrears.v1.LedgerService/OpenDispute":          {Roles: bothSides},
	"/arrears.v1.LedgerService/GetDispute":           {Roles: everyone},
	"/arrears.v1.LedgerService/ListDisputes":         {Roles: everyone},
	"/arrears.v1.LedgerService/ResolveDispute":       {Roles: []Role{RoleDebtor, RoleCreditor, RolePortal, RoleRegulator, RoleAdmin}},
	"/arrears.v1.LedgerService/ListRevisions":        {Roles: everyone},
	"/arrears.v1.LedgerService/ListEscalationEvents": {Roles: everyone},
	"/arrears.v1.LedgerService/ListPaymentPolicies":  {Roles: everyone},

	"/arrears.v1.AccessService/CreateApiKey":                         {Roles: admins},
	"/arrears.v1.AccessService/ListApiKeys":                          {Roles: admins},
	"/arrears.v1.AccessService/RevokeApiKey":                         {Roles: admins},
	"/arrears.v1.AccessService/AuthorizePortal":                      {Roles: []Role{RoleCreditor, RoleAdmin}},
	"/arrears.v1.AccessService/RevokePortalAuthorization":            {Roles: []Role{RoleCreditor, RoleAdmin}},
	"/arrears.v1.AccessService/ListEvents":                           {Roles: everyone},
	"/arrears.v1.AccessService/GetAuditCheckpoint":                   {Roles: everyone},
	"/arrears.v1.SupplierService/CreateClaim":                        {Roles: creditors},
	"/arrears.v1.SupplierService/GetClaim":                           {Roles: everyone},
	"/arrears.v1.SupplierService/ListClaims":                         {Roles: everyone},
	"/arrears.v1.SupplierService/AnswerClaim":                        {Roles: bothSides},
	"/arrears.v1.SupplierService/OpenContest":                        {Roles: creditors},
	"/arrears.v1.SupplierService/GetContest":                         {Roles: everyone},
	"/arrears.v1.SupplierService/ListContests":                       {Roles: everyone},
	"/arrears.v1.SupplierService/MoveContest":                        {Roles: everyone},
	"/arrears.v1.SupplierService/FileComplaint":                      {Roles: creditors},
	"/arrears.v1.SupplierService/GetComplaint":                       {Roles: everyone},
	"/arrears.v1.SupplierService/ListComplaints":                     {Roles: everyone},
	"/arrears.v1.SupplierService/MoveComplaint":                      {Roles: everyone},
	"/arrears.v1.SupplierService/ListComplaintEvents":                {Roles: everyone},
	"/arrears.v1.SupplierService/GetComplaintStatistics":             {Roles: []Role{RoleRegulator, RoleAdmin}},
	"/arrears.v1.SyncService/SyncPayables":                           {Roles: debtors},
	"/arrears.v1.SyncService/SyncPayablesBatch":                      {Roles: debtors},
	"/arrears.v1.SyncService/GetSyncSession":                         {Roles: debtors},
	"/arrears.v1.SyncService/ListSyncRejections":                     {Roles: debtors},
	"/arrears.v1.OversightService/GetOverdueSummary":                 {Roles: everyone},
	"/arrears.v1.OversightService/GetAnnualDisclosure":               {Roles: []Role{RoleRegulator, RoleDebtor, RoleAdmin}},
	"/arrears.v1.OversightService/GetWatchList":                      {Roles: []Role{RoleRegulator, RoleDebtor, RoleAdmin}},
	"/arrears.v1.OversightService/ExportOverdueSummary":              {Roles: everyone},
	"/arrears.v1.OversightService/GetPaymentPracticeReport":          {Roles: []Role{RoleRegulator, RoleDebtor, RoleAdmin}},
	"/grpc.health.v1.Health/Check":                                   {Public: true},
	"/grpc.health.v1.Health/Watch":                                   {Public: true},
	"/grpc.health.v1.Health/List":                                    {Public: true},
	"/grpc.reflection.v1.ServerReflection/ServerReflectionInfo":      {Roles: everyone},
	"/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo": {Roles: everyone},
}
